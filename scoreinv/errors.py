"""The one error type for bad input: its message is a single line meant for the user."""
from __future__ import annotations


class InputError(ValueError):
    """Bad user input: the message is one line that says what to change."""


def first_line(error: Exception) -> str:
    """The first line of an exception's message (its class name when the message is empty)."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
