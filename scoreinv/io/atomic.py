"""Files that appear whole or not at all: write to a hidden temporary beside the target, then rename."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from scoreinv.errors import InputError


class atomic_path:
    """Context manager yielding a temporary path beside ``path`` that is renamed onto it on success."""

    def __init__(self, path):
        self.path = Path(path)

    def __enter__(self) -> Path:
        if self.path.parent and not self.path.parent.exists():
            raise InputError(f"{self.path.parent}: output folder does not exist")
        fd, name = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=self.path.suffix, dir=self.path.parent or ".")
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(name, 0o666 & ~umask)  # mkstemp's 0600 would make outputs private
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
        return False
