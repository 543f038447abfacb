"""``scoreinv solve`` on several images (files, folders, or both), one task and one set of options: one output set
each, derived from each input's stem and written as its own transaction, a progress bar over images, a summary CSV
rewritten (atomically) as images complete, and shards (``--shard i/n`` or torchrun's RANK / WORLD_SIZE) like the
benchmark's, each shard writing its own CSV (summary.shard-I-of-N.csv; the parts' rows are disjoint).

An image refused with a one-line error (an unreadable file, a mask of the wrong size, a diverged sampler, a full
disk) gets status ``error`` and its message in the CSV, nothing written for it, and the batch goes on; the command
then ends with ``Error: N of M images failed …`` and exit status 1. Anything else (Ctrl-C, a bug) stops the batch;
the CSV then lists the images done. Every image uses the same ``--seed``, so its result does not depend on the
folder or shard it was solved in.
"""
from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import click

from scoreinv.cli.solve_image import DEFAULT_NAME, FLAGS, STEM, Job, check_deep, output_bits, plan_outputs, solve_one
from scoreinv.cli.solve_image import input_files
from scoreinv.errors import InputError, first_line
from scoreinv.io.images import IMAGE_SUFFIXES

COLUMNS = ("input", "status", "message", "output", "json", "psnr", "ssim", "lpips", "nfe", "seconds", "sigma_y",
           "bits")


def is_batch(specs) -> bool:
    """Whether INPUT... asks for several images: more than one value, or a folder."""
    return len(specs) > 1 or Path(specs[0]).is_dir()


def expand_inputs(specs, *, family: str, simulate: bool) -> list:
    """INPUT values with each folder replaced by its image files (its sinogram .npy files for measured CT), sorted
    by name, hidden files skipped; one-line errors for a missing file, an empty folder or two inputs of one stem.

    Args:
        specs: the INPUT values (files, folders, skimage:NAME).
        family: the task family.
        simulate: whether the inputs are clean pictures.
    """
    from scoreinv.problems.pictures import SKIMAGE_PREFIX, input_stem

    sinograms = family == "ct" and not simulate
    suffixes = {".npy"} if sinograms else IMAGE_SUFFIXES
    found = []
    for spec in specs:
        path = Path(spec)
        if spec.startswith(SKIMAGE_PREFIX) or path.is_file():
            found.append(spec)
        elif path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in suffixes and not p.name.startswith(".")
                           and p.is_file())
            if not files:
                kind = "sinogram .npy" if sinograms else "image (.png, .jpg, .tif, .bmp)"
                raise InputError(f"{spec}: is a folder holding no {kind} files")
            found += [str(p) for p in files]
        else:
            raise InputError(f"{spec}: no such file or folder")
    seen = {}
    for spec in found:
        key = input_stem(spec).casefold()
        if key in seen:
            raise InputError(f"{seen[key]} and {spec} have the same stem {input_stem(spec)!r}, so their outputs "
                             "would share names; rename one or solve them apart")
        seen[key] = spec
    return found


def choose_shard(text: str | None, *, batch: bool) -> tuple | None:
    """This process's shard: --shard i/n (several images only), else torchrun's (RANK, WORLD_SIZE), else None."""
    from scoreinv.io.shards import parse_shard, shard_from_env

    if text:
        if not batch:
            raise InputError("--shard splits the images of a folder or of several INPUTs; give one of those")
        return parse_shard(text)
    return shard_from_env()


def plan_batch(job: Job, specs: list, *, output, std_path, figure_path, json_path, summary_path, shard):
    """Every output of this shard's images and the summary CSV, checked before any work (the output folder made
    when missing and its parent exists); returns ([(input, OutputSet, paths)], CSV path)."""
    from scoreinv.io.output_set import OutputSet
    from scoreinv.io.shards import shard_indices
    from scoreinv.problems.pictures import input_stem

    folder, patterns = _patterns(output, std_path, figure_path, json_path)
    check_deep(job, patterns)
    csv_path = Path(summary_path) if summary_path else folder / "summary.csv"
    if csv_path.suffix.lower() != ".csv":
        raise InputError(f"--summary {csv_path}: name a .csv file")
    if shard:
        csv_path = csv_path.with_name(f"{csv_path.stem}.shard-{shard[0]}-of-{shard[1]}{csv_path.suffix}")
    protected = {}
    for spec in specs:
        protected.update(input_files(job, spec))
    created = _make_folder(folder, [patterns["std"], patterns["figure"], patterns["json"], csv_path])
    try:
        checker, plans = OutputSet(protected), []
        for index in shard_indices(len(specs), shard) if shard else range(len(specs)):
            stem = input_stem(specs[index])
            names = {key: pattern.replace(STEM, stem) if pattern else None for key, pattern in patterns.items()}
            outputs, paths = plan_outputs(names, protected=protected)
            for target, flag in outputs.planned.items():
                checker.plan(target, flag=f"{flag} of {specs[index]}")
            plans.append((specs[index], outputs, paths))
        checker.plan(csv_path, flag="--summary", fix="choose another --summary")
    except BaseException:
        if created:
            _remove_empty(folder)
        raise
    return plans, csv_path


def _patterns(output, std_path, figure_path, json_path) -> tuple:
    """(output folder, {"output", "std", "figure", "json": file name pattern holding {stem}, or None})."""
    if output and STEM in output:
        if STEM in str(Path(output).parent):
            raise InputError(f"-o {output}: put {STEM} in the file name, not in a folder's name")
        folder, pattern = Path(output).parent, output
    else:
        folder = Path(output) if output else Path.cwd()
        if folder.exists() and not folder.is_dir():
            raise InputError(f"-o {output}: is a file; with several inputs -o names an output folder or a file name "
                             f"holding {STEM} (e.g. out/{STEM}.png)")
        if not folder.exists() and folder.suffix.lower() in IMAGE_SUFFIXES:
            raise InputError(f"-o {output}: with several inputs -o names an output folder or a file name holding "
                             f"{STEM} (e.g. {folder.parent / (STEM + folder.suffix)})")
        pattern = str(folder / DEFAULT_NAME)
    patterns = {"output": pattern}
    for key, value, example in (("std", std_path, "_std.png"), ("figure", figure_path, "_figure.png"),
                                ("json", json_path, ".json")):
        if value and (STEM not in Path(value).name or STEM in str(Path(value).parent)):
            raise InputError(f"{FLAGS[key]} {value}: with several inputs it names one file per image; put {STEM} in "
                             f"its file name, e.g. {FLAGS[key]} {folder / (STEM + example)}")
        patterns[key] = value
    return folder, patterns


def _make_folder(folder: Path, others: list) -> bool:
    """Create the output folder when missing and its parent exists (True if made); every other output's folder must
    exist already or be that one."""
    for other in others:
        parent = Path(other).parent if other else None
        if parent is not None and not parent.is_dir() and parent.absolute() != folder.absolute():
            raise InputError(f"{other}: output folder {parent} does not exist")
    if folder.is_dir():
        return False
    if not folder.absolute().parent.is_dir():
        raise InputError(f"-o {folder}: its parent folder {folder.parent} does not exist; create it first")
    try:
        folder.mkdir()
    except FileExistsError:  # another shard made it first
        if folder.is_dir():
            return False
        raise InputError(f"-o {folder}: is a file; with several inputs -o names an output folder") from None
    except OSError as error:
        raise InputError(f"-o {folder}: cannot create the folder: {first_line(error)}") from None
    return True


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def summary_row(spec: str, *, record: dict | None = None, paths: dict | None = None, error=None) -> dict:
    """One image's row of the summary CSV (see :data:`COLUMNS`): its files and figures, or its error's line."""
    if error is not None:
        return {"input": spec, "status": "error", "message": first_line(error)}
    metrics = record["metrics"] or {}
    return {"input": spec, "status": "ok", "message": "", "output": str(paths["output"]), "json": str(paths["json"]),
            "psnr": metrics.get("psnr"), "ssim": metrics.get("ssim"), "lpips": metrics.get("lpips"),
            "nfe": record["nfe"], "seconds": record["seconds"], "sigma_y": record["measurement"].get("sigma_y"),
            "bits": record["bits"]}


def write_summary(path: Path, rows: list) -> None:
    """The summary CSV, replaced whole (a temporary renamed onto it)."""
    from scoreinv.io.atomic import atomic_path

    try:
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as file:
            writer = csv.DictWriter(file, COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    except OSError as error:
        raise InputError(f"--summary {path}: cannot write: {first_line(error)}") from None


def run_batch(job: Job, specs: list, *, output, std_path, figure_path, json_path, summary_path,
              shard: tuple | None) -> None:
    """Solve several INPUTs (folders already expanded) with one job: see the module's docstring.

    Args:
        job: the options.
        specs: the inputs, in order (every shard sees the same list).
        output: -o: an output folder (created when its parent exists) or a file name holding {stem}.
        std_path, figure_path, json_path: file names holding {stem}, or None.
        summary_path: the CSV [default: the output folder's summary.csv].
        shard: (i, n) of this process, or None for all images.
    """
    from scoreinv.cli.solve_report import summary
    from scoreinv.io.progress import Progress

    plans, csv_path = plan_batch(job, specs, output=output, std_path=std_path, figure_path=figure_path,
                                 json_path=json_path, summary_path=summary_path, shard=shard)
    if shard and not plans:
        click.echo(f"note: shard {shard[0]}/{shard[1]} holds no images ({len(specs)} in all)", err=True)
    rows, priors, began = [], {}, time.monotonic()
    bar = Progress(len(plans), desc="images", enabled=not job.quiet)
    write_summary(csv_path, rows)
    for spec, outputs, paths in plans:
        try:
            bits = output_bits(job, spec, paths)
            record, result = solve_one(job, spec, outputs, paths, bits=bits, priors=priors, progress=False,
                                       label=f"{spec}: ")
        except InputError as error:
            click.echo(f"warning: nothing written for {spec}: {first_line(error)}", err=True)
            rows.append(summary_row(spec, error=error))
        else:
            click.echo(f"{spec}: {summary(record['metrics'], result, paths)}")
            rows.append(summary_row(spec, record=record, paths=paths))
        write_summary(csv_path, rows)
        bar.update(failed=sum(row["status"] == "error" for row in rows))
    bar.close()
    failed = [row for row in rows if row["status"] == "error"]
    click.echo(f"{len(rows)} image{'' if len(rows) == 1 else 's'} in {time.monotonic() - began:.1f} s: "
               f"{len(rows) - len(failed)} restored, {len(failed)} failed | wrote {csv_path}")
    if failed:
        raise InputError(f"{len(failed)} of {len(rows)} images failed (first {failed[0]['input']}: "
                         f"{failed[0]['message']}); see {csv_path}")


def torchrun_device(device: str, environ=None) -> str:
    """--device auto under torchrun with CUDA: cuda:LOCAL_RANK (modulo the GPUs), so each process has its own GPU."""
    import torch

    environ = os.environ if environ is None else environ
    if device != "auto" or "LOCAL_RANK" not in environ or not torch.cuda.is_available():
        return device
    return f"cuda:{int(environ['LOCAL_RANK']) % torch.cuda.device_count()}"
