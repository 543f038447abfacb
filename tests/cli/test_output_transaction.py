"""Outputs as one transaction: a fault at every rename of the write phase (Ctrl-C or an OSError, before or just after
the rename) leaves the folder as it was (no partial set, no temporary, an earlier set intact), with one line and a
non-zero exit; stale temporaries of killed runs are cleaned; OutputSet's own checks."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

import scoreinv.io.output_set as output_set
from cli_checks import ok
from hostile_scene import GREY_PRIOR, STEPS, build_scene, refused, snapshot, write_priors
from scoreinv.errors import InputError
from scoreinv.io.output_set import OutputSet

SOLVE = ["solve", "--task", "inpaint", "clean.png", "--mask", "mask.png", "--prior", GREY_PRIOR, *STEPS,
         "-o", "out.png", "--std-map", "std.png", "--figure", "fig.png"]
OUTPUTS = ["out.png", "std.png", "fig.png", "out.json"]


@pytest.fixture(scope="module")
def priors(tmp_path_factory):
    return write_priors(tmp_path_factory.mktemp("shipped"))


def fault_at(monkeypatch, k: int, fault: BaseException, *, after: bool) -> list:
    """Make the k-th rename (0-based) raise ``fault``, before it happens or just after; returns the renames seen."""
    seen = []

    def rename(source, target):
        seen.append(Path(target).name)
        if len(seen) - 1 == k and not after:
            raise fault
        os.replace(source, target)
        if len(seen) - 1 == k:
            raise fault

    monkeypatch.setattr(output_set, "rename", rename)
    return seen


def temporaries(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


FAULTS = {"ctrl-c": (KeyboardInterrupt(), "interrupted while writing"),
          "io-error": (OSError(errno.EIO, "Input/output error"), "input/output error (EIO); nothing was written")}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("after", [False, True], ids=["before-rename", "after-rename"])
@pytest.mark.parametrize("k", range(4))
def test_fault_at_each_rename_of_a_fresh_set(cli, tmp_path, monkeypatch, priors, k, fault, after):
    build_scene(tmp_path, priors)
    before = snapshot(tmp_path)
    seen = fault_at(monkeypatch, k, FAULTS[fault][0], after=after)
    refused(cli(*SOLVE), FAULTS[fault][1])
    assert seen[-1] == OUTPUTS[k] and len(seen) == k + 1  # out, std, fig, then the JSON sidecar last
    assert snapshot(tmp_path) == before                     # no PNG without JSON, no temporary
    assert not temporaries(tmp_path)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("after", [False, True], ids=["before-rename", "after-rename"])
@pytest.mark.parametrize("k", range(8))
def test_fault_at_each_rename_keeps_the_earlier_set(cli, tmp_path, monkeypatch, priors, k, fault, after):
    """With an earlier complete set under the same names: 4 renames move it aside (the JSON first), 4 place the new
    one; a fault at any of them leaves the earlier set byte for byte."""
    build_scene(tmp_path, priors)
    ok(cli(*SOLVE, "--seed", "1"))
    before = snapshot(tmp_path)
    seen = fault_at(monkeypatch, k, FAULTS[fault][0], after=after)
    refused(cli(*SOLVE, "--seed", "2"), FAULTS[fault][1])
    assert len(seen) == k + 1
    assert snapshot(tmp_path) == before
    assert not temporaries(tmp_path)


def test_the_renames_of_a_replacing_commit(cli, tmp_path, monkeypatch, priors):
    build_scene(tmp_path, priors)
    ok(cli(*SOLVE, "--seed", "1"))
    seen = fault_at(monkeypatch, 99, KeyboardInterrupt(), after=False)
    ok(cli(*SOLVE, "--seed", "2"))
    assert [name if not name.endswith(".tmp") else "aside" for name in seen] == ["aside"] * 4 + OUTPUTS
    assert not temporaries(tmp_path)


def test_full_disk_while_encoding_leaves_nothing(cli, tmp_path, monkeypatch, priors):
    from PIL import Image

    build_scene(tmp_path, priors)
    before = snapshot(tmp_path)
    real_save = Image.Image.save
    calls = []

    def save(self, fp, *args, **kwargs):
        calls.append(fp)
        if len(calls) == 3:  # the figure: two files already written to their temporaries
            Path(fp).write_bytes(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save)
    line = refused(cli(*SOLVE), "--figure fig.png: cannot write: no space left on device (ENOSPC)")
    assert line.endswith("nothing was written")
    assert snapshot(tmp_path) == before


def test_stale_temporaries_of_a_killed_run_are_cleaned(cli, tmp_path, priors):
    build_scene(tmp_path, priors)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(dead.stdout)
    stale = [f".out.png.{dead_pid}.0123abcd.tmp", f".out.json.{dead_pid}.89ef4567.tmp"]
    live = [".out.png.1.0123abcd.tmp", f".out.json.{os.getpid()}.00000000.tmp", ".other.png.7.tmp"]
    for name in stale + live:
        (tmp_path / name).write_bytes(b"half")
    ok(cli(*SOLVE))
    assert temporaries(tmp_path) == sorted(live)  # a running process's temporaries (pid 1, ours) are left alone
    assert all((tmp_path / name).exists() for name in OUTPUTS)


def test_likelihood_json_is_transactional(cli, tmp_path, monkeypatch, priors):
    build_scene(tmp_path, priors)
    before = snapshot(tmp_path)
    fault_at(monkeypatch, 0, KeyboardInterrupt(), after=True)
    refused(cli("likelihood", "clean.png", "--prior", GREY_PRIOR, "--steps", "1", "--json", "ll.json"),
            "interrupted while writing ll.json; nothing was written")
    assert snapshot(tmp_path) == before


def test_ctrl_c_exit_status_is_130(cli, tmp_path, monkeypatch, priors):
    build_scene(tmp_path, priors)
    fault_at(monkeypatch, 0, KeyboardInterrupt(), after=False)
    assert cli(*SOLVE).exit_code == 130


# OutputSet itself

def test_output_set_plans_before_work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "input.png").write_bytes(b"x")
    os.link(tmp_path / "input.png", tmp_path / "twin.png")
    (tmp_path / "alias.png").symlink_to("input.png")
    outputs = OutputSet({tmp_path / "input.png": "the input"})
    for name in ("input.png", "twin.png", "alias.png"):
        with pytest.raises(InputError, match=f"-o {name} is the input; refusing to overwrite it"):
            outputs.plan(name, flag="-o")
    outputs = OutputSet()
    outputs.plan("a.png", flag="-o")
    with pytest.raises(InputError, match="--figure and -o both name a.png"):
        outputs.plan("./a.png", flag="--figure")
    with pytest.raises(InputError, match="is the model card"):
        outputs.protect({tmp_path / "a.png": "the model card"})
    with pytest.raises(ValueError, match="not planned"):
        OutputSet().add("b.png", lambda tmp: None)


def test_output_set_commits_in_order_with_the_umask(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outputs = OutputSet()
    for name in ("a.png", "b.json"):
        outputs.plan(name, flag=name)
        outputs.add(name, lambda tmp, name=name: Path(tmp).write_text(name))
    seen = fault_at(monkeypatch, 99, KeyboardInterrupt(), after=False)
    umask = os.umask(0o022)
    os.umask(umask)
    assert [p.name for p in outputs.commit()] == ["a.png", "b.json"] == seen
    assert (tmp_path / "b.json").read_text() == "b.json"
    assert (tmp_path / "a.png").stat().st_mode & 0o777 == 0o666 & ~umask
    assert not temporaries(tmp_path)


def test_a_writer_bug_is_not_hidden_but_cleaned_up(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outputs = OutputSet()
    outputs.plan("a.png", flag="-o")
    outputs.add("a.png", lambda tmp: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        outputs.commit()
    assert list(tmp_path.iterdir()) == []
