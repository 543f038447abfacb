"""Checks shared by the command-line tests: a command succeeded, or failed with one clear line."""
from __future__ import annotations


def ok(result):
    """The result of a command that must succeed (shows its output otherwise)."""
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    return result


def one_line_error(result, *fragments, notes_allowed: bool = False, usage_allowed: bool = False) -> str:
    """Check a failure: non-zero exit, no traceback, exactly one ``Error: …`` line on stderr, the last one, holding
    every fragment; before it only ``note:`` / ``warning:`` lines (with ``notes_allowed``) and click's ``Usage:`` /
    ``Try …`` lines (with ``usage_allowed``) may come. Returns that line."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), f"uncaught exception: {result.exception!r}"
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    allowed = (("note:", "warning:") if notes_allowed else ()) + (("Usage:", "Try ") if usage_allowed else ())
    others = [line for line in lines[:-1] if not line.startswith(allowed)] if allowed else lines[:-1]
    assert not others, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def make_reconstruct_diverge(monkeypatch) -> None:
    """Patch ``scoreinv.solve.reconstruct.reconstruct`` so that every result's mean holds a NaN (a diverged sampler)."""
    import importlib

    module = importlib.import_module("scoreinv.solve.reconstruct")
    real = module.reconstruct

    def diverging(*args, **kwargs):
        result = real(*args, **kwargs)
        result.mean[..., 0, 0] = float("nan")
        return result

    monkeypatch.setattr(module, "reconstruct", diverging)
