"""A command's output files as one transaction: checked before any work, written to hidden temporaries beside their
targets, then renamed into place in order, the marker (a JSON sidecar, added last) last.

Any error or Ctrl-C while writing or renaming removes what the run placed, puts back the files it was replacing,
and deletes its temporaries, so a folder holds the earlier set or the new one, never a mixture. Temporaries are
named ``.NAME.PID.TOKEN.tmp``; those of a process that no longer runs (a killed run) are deleted when a later run
plans the same NAME, those of a running process are left alone.
"""
from __future__ import annotations

import errno
import os
import re
import secrets
from pathlib import Path
from typing import Callable

from scoreinv.errors import InputError


def rename(source: Path, target: Path) -> None:
    """Every rename of a commit goes through here (tests replace it to inject a fault at the k-th rename)."""
    os.replace(source, target)


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same inode when both exist (symlinks, hard links), else the same
    resolved path."""
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    except OSError:
        pass
    return Path(a).resolve() == Path(b).resolve()


class OutputSet:
    """The outputs of one run: :meth:`plan` each before any work, :meth:`add` its writer after, then :meth:`commit`.

    Args:
        protected: files no output may replace, as {path: what it is} (e.g. "the input image").
    """

    def __init__(self, protected: dict | None = None):
        self.protected: dict[Path, str] = {}
        self.planned: dict[Path, str] = {}
        self.fixes: dict[Path, str] = {}
        self.writers: list[tuple[Path, Callable[[Path], None]]] = []
        self.protect(protected or {})

    def protect(self, files: dict) -> None:
        """Add {path: what it is} to the protected files, refusing at once if a planned output names one.

        Args:
            files: paths (None entries are skipped) and their descriptions.
        """
        for path, what in files.items():
            if path is None:
                continue
            self.protected[Path(path)] = what
            for target, flag in self.planned.items():
                self._refuse_protected(target, flag, self.fixes[target])

    def plan(self, path, *, flag: str, fix: str = "choose another name") -> Path:
        """Check an output now: its folder exists and is writable, it is no folder, no protected file and no other
        output; deletes the stale temporaries of killed runs beside it.

        Args:
            path: the output file.
            flag: how messages name it (e.g. "-o", "--json").
            fix: what the user should do when it would replace a protected file.
        """
        path = Path(path)
        target = path if path.is_absolute() else Path.cwd() / path
        if path.is_dir():
            raise InputError(f"{flag} {path}: is a folder, expected a file name")
        folder = target.parent
        if not folder.is_dir():
            raise InputError(f"{flag} {path}: output folder {path.parent} does not exist")
        for other, other_flag in self.planned.items():
            if same_file(target, other):
                raise InputError(f"{flag} and {other_flag} both name {path}; give them different names")
        self._refuse_protected(target, flag, fix)
        self.planned[target] = flag
        self.fixes[target] = fix
        _clean_stale(target)
        try:
            os.unlink(_temporary(target))
        except OSError as error:
            raise InputError(f"{flag} {path}: cannot write in folder {folder}: {_reason(error)}") from None
        return path

    def add(self, path, writer: Callable[[Path], None]) -> None:
        """Queue a planned output: ``writer(temporary)`` writes its content; outputs are renamed in the order added.

        Args:
            path: a path given to :meth:`plan`.
            writer: writes the whole file at the path it is given (a temporary beside ``path``).
        """
        target = Path(path) if Path(path).is_absolute() else Path.cwd() / path
        if target not in self.planned:
            raise ValueError(f"{path} was not planned")
        self.writers.append((target, writer))

    def commit(self) -> list[Path]:
        """Write every queued output to its temporary, then rename them into place (the last added last); on any
        failure undo everything (see the module's docstring).

        Returns:
            the targets, in the order written.
        Raises:
            InputError: an OSError while writing (a full disk: ENOSPC, EFBIG; no permission), nothing left behind.
            KeyboardInterrupt: Ctrl-C, after the same clean-up.
        """
        temporaries, replaced, placed, current = {}, {}, [], None
        try:
            for target, writer in self.writers:
                current = target
                temporaries[target] = _temporary(target)
                writer(temporaries[target])
            for target, _ in reversed(self.writers):  # the marker's old copy goes first, so no stale set looks whole
                current = target
                if os.path.lexists(target):
                    backup = _temporary(target)
                    try:
                        rename(target, backup)
                    finally:  # judged by the files, so an interrupt just after a rename is undone too
                        if os.path.lexists(target):
                            _unlink(backup)
                        else:
                            replaced[target] = backup
            for target, _ in self.writers:
                current = target
                try:
                    rename(temporaries[target], target)
                finally:
                    if not os.path.lexists(temporaries[target]):
                        placed.append(target)
                        del temporaries[target]
        except BaseException as error:
            _roll_back(temporaries, replaced, placed)
            flag = f"{self.planned.get(current, '')} {_shown(current)}".strip()
            if isinstance(error, OSError):
                raise InputError(f"{flag}: cannot write: {_reason(error)}; nothing was written") from None
            if isinstance(error, KeyboardInterrupt):
                raise KeyboardInterrupt(f"interrupted while writing {_shown(current)}; nothing was written") from None
            raise
        for backup in replaced.values():
            _unlink(backup)
        return [target for target, _ in self.writers]

    def _refuse_protected(self, target: Path, flag: str, fix: str) -> None:
        for path, what in self.protected.items():
            if same_file(target, path):
                raise InputError(f"{flag} {_shown(target)} is {what}; refusing to overwrite it, {fix}")


_TEMPORARY = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]+\.tmp")


def _temporary(target: Path) -> Path:
    """A new empty file ``.NAME.PID.TOKEN.tmp`` beside ``target`` (permissions of the umask, like any new file)."""
    while True:
        path = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return path
        except FileExistsError:
            continue


def _clean_stale(target: Path) -> None:
    """Delete the temporaries of ``target`` left by processes that no longer run."""
    try:
        candidates = list(target.parent.glob(f".{glob_escape(target.name)}.*.tmp"))
    except OSError:
        return
    for path in candidates:
        match = _TEMPORARY.fullmatch(path.name)
        if match and match.group("name") == target.name and not _running(int(match.group("pid"))):
            _unlink(path)


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def _roll_back(temporaries: dict, replaced: dict, placed: list) -> None:
    """Undo a commit: remove what was placed, put back what was replaced, delete the temporaries (best effort)."""
    for target in reversed(placed):
        _unlink(target)
    for target, backup in replaced.items():
        try:
            os.replace(backup, target)
        except OSError:
            pass
    for path in temporaries.values():
        _unlink(path)


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _reason(error: OSError) -> str:
    code = errno.errorcode.get(error.errno, "") if error.errno else ""
    text = (error.strerror or str(error) or type(error).__name__).rstrip(".")
    return f"{text[0].lower()}{text[1:]} ({code})" if code else text


def _shown(path: Path | None) -> str:
    """A target as the user would write it: relative to the current folder when inside it."""
    if path is None:
        return ""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
