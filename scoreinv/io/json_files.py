"""Reading a JSON file the user named, with a one-line error when it is missing or not JSON."""
from __future__ import annotations

import json
from pathlib import Path

from scoreinv.errors import InputError


def read_json(path, *, what: str = "file"):
    """The parsed content of the JSON file ``path``; InputError naming ``what`` it should be when it is not.

    Args:
        path: the file.
        what: what the file is, for the message (e.g. "model card").
    """
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: {what} missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{path}: {what} is not valid JSON") from None
