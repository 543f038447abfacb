"""``scoreinv solve``, one image: its options (:class:`Job`), its outputs planned before any work (never an input,
all distinct), its problem measured or read, reconstructed through the public API and written as one transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from scoreinv.errors import InputError
from scoreinv.io.images import DEEP_FORMATS, IMAGE_SUFFIXES, bit_depth, check_bits, image_format
from scoreinv.problems.measured import DEFAULT_TASK
from scoreinv.problems.tasks import TASKS

STEM = "{stem}"  # replaced by each input's stem in -o, --std-map, --figure and --json
DEFAULT_NAME = "{stem}_restored.png"
MEASURED_NOISE = {family: TASKS[task].sigma_y for family, task in DEFAULT_TASK.items()}
FLAGS = {"output": "-o", "std": "--std-map", "figure": "--figure", "json": "--json"}


@dataclass(frozen=True)
class Job:
    """The options every image of one ``scoreinv solve`` run is solved with (see the command's help).

    Attributes:
        task: the --task value; family: inpaint, deblur, sr or ct.
        simulate: INPUT is a clean picture to measure.
        operator: {"mask", "box", "missing", "kernel", "scale", "angles", "size" (H, W)} → value or None.
        noise: σ_y, or None for the family's default.
        bits: "8" or "16" a sample for the restored image and std map, "auto" for the input file's depth, or None
            (not given: 8, with a note when the input has more).
        quiet: no progress bar.
        memory_budget: bytes a reconstruction may grow by before the prior runs on tiles (None: no limit).
        The others go to :func:`scoreinv.reconstruct` as they are.
    """

    task: str
    family: str
    simulate: bool
    operator: dict
    noise: object
    prior: str | None
    target: str
    method: str | None
    steps: int | None
    eta: float | None
    prior_weight: float | None
    cg_effort: float | None
    self_ensemble: bool | None
    n_samples: int
    seed: int
    device: str
    channels: int | None
    bits: str | None
    quiet: bool
    memory_budget: float | None = None


def run_single(job: Job, spec: str, *, output, std_path, figure_path, json_path) -> None:
    """Solve one INPUT: outputs planned before any work and written as one transaction; prints the summary line."""
    from scoreinv.cli.solve_report import summary
    from scoreinv.problems.pictures import input_stem

    if output and Path(output).is_dir():
        raise InputError(f"-o {output}: is a directory; with one INPUT -o names the restored image file (with a "
                         "folder or several INPUTs it names their output folder)")
    stem = input_stem(spec)
    names = {key: value.replace(STEM, stem) if value else None for key, value in
             (("output", output), ("std", std_path), ("figure", figure_path), ("json", json_path))}
    names["output"] = names["output"] or str(Path.cwd() / DEFAULT_NAME.replace(STEM, stem))
    check_deep(job, names)
    outputs, paths = plan_outputs(names, protected=input_files(job, spec))
    bits = output_bits(job, spec, paths)
    record, result = solve_one(job, spec, outputs, paths, bits=bits, priors={}, progress=not job.quiet)
    click.echo(summary(record["metrics"], result, paths))


def solve_one(job: Job, spec: str, outputs, paths: dict, *, bits: int, priors: dict, progress: bool, label: str = ""):
    """Measure or read one INPUT, reconstruct it and commit its planned outputs; returns (JSON record, result).

    Args:
        job: the run's options.
        spec: INPUT as given (a file or skimage:NAME).
        outputs: its planned :class:`~scoreinv.io.output_set.OutputSet`.
        paths: {"output", "std", "figure", "json"} → Path or None.
        bits: 8 or 16 a sample for the restored image and std map.
        priors: {name: loaded prior}, filled and reused across images.
        progress: draw the sampler's progress bar.
        label: put before notes (the input's name in a batch).
    """
    from scoreinv.cli.solve_report import queue_outputs
    from scoreinv.priors.registry import load_prior, prior_files, shipped_prior_files
    from scoreinv.solve.row_priors import default_prior_for
    from scoreinv.solve.rows import row_of
    from scoreinv.solve.reconstruct import reconstruct  # scoreinv.reconstruct, looked up at each call

    problem = _problem(job, spec)
    for note in problem.notes:
        click.echo(f"note: {label}{note}", err=True)
    x_channels = problem.image_shape[1]
    name = job.prior or default_prior_for(row_of(problem.operator), target=job.target, family=job.family,
                                              channels=x_channels)
    outputs.protect({**shipped_prior_files(), **prior_files(name)})
    if name not in priors:
        priors[name] = load_prior(name, device=job.device)
    denoiser = priors[name]
    if denoiser.channels not in (None, x_channels):
        fix = {1: "--grey", 3: "--colour"}.get(denoiser.channels, "another --prior")
        raise InputError(f"prior {denoiser.name!r} models {denoiser.channels}-channel images but the image has "
                         f"{x_channels}; add {fix} or choose another --prior")
    result = reconstruct(problem.y, problem.operator, prior=denoiser, method=job.method, steps=job.steps,
                         n_samples=job.n_samples, target=job.target, seed=job.seed, device=job.device, eta=job.eta,
                         prior_weight=job.prior_weight, cg_effort=job.cg_effort, self_ensemble=job.self_ensemble,
                         memory_budget=job.memory_budget, progress=progress)
    restored = result.mean[0].cpu()
    if not bool(restored.isfinite().all()):
        raise InputError(f"the reconstruction holds NaN or infinite values (method {result.settings['method']} "
                         "diverged); nothing was written; try another --method or --noise above 0")
    record = queue_outputs(outputs, paths, problem=problem, result=result, restored=restored, input_spec=spec,
                           simulate=job.simulate, bits=bits)
    outputs.commit()
    return record, result


def _problem(job: Job, spec: str):
    from scoreinv.problems.simulated import simulated

    op = job.operator
    if job.simulate:
        return simulated(job.task, spec, mask=op["mask"], box=op["box"], missing=op["missing"], kernel=op["kernel"],
                         scale=op["scale"], angles=op["angles"], size=op["size"], noise=job.noise,
                         channels=job.channels, seed=job.seed)
    noise = MEASURED_NOISE[job.family] if job.noise is None else job.noise
    return _measured(job.family, spec, mask=op["mask"], kernel=op["kernel"], scale=op["scale"] or 4,
                     angles=op["angles"], size=op["size"], noise=noise, channels=job.channels)


def _measured(family: str, input_spec: str, *, mask, kernel, scale, angles, size, noise, channels):
    from scoreinv.problems.measured import measured_ct, measured_deblur, measured_inpaint, measured_sr
    from scoreinv.problems.pictures import SKIMAGE_PREFIX

    if family == "inpaint":
        return measured_inpaint(input_spec, mask=mask, noise=noise, channels=channels)
    if family == "deblur":
        if kernel is None:
            raise InputError("deblurring a real image needs its blur: --kernel gaussian:SIGMA, motion:LENGTH,ANGLE, "
                             "levin:N or a kernel file")
        return measured_deblur(input_spec, kernel=kernel, noise=noise, channels=channels)
    if family == "sr":
        return measured_sr(input_spec, scale=scale, noise=noise, channels=channels)
    if input_spec.startswith(SKIMAGE_PREFIX):
        raise InputError("a CT measurement is a sinogram .npy; to start from a picture add --simulate")
    return measured_ct(input_spec, angles=angles, size=size, noise=noise)


def input_files(job: Job, spec: str) -> dict:
    """{path: what it is} of every file an option names, which no output may replace."""
    from scoreinv.priors.registry import prior_files
    from scoreinv.problems.pictures import input_path

    mask, kernel, angles = job.operator["mask"], job.operator["kernel"], job.operator["angles"]
    files = {input_path(spec): "the input file", Path(mask) if mask else None: "the --mask file"}
    for value, flag in ((kernel, "--kernel"), (angles, "--angles")):
        if value and Path(value).is_file():
            files[Path(value)] = f"the {flag} file"
    if job.prior is not None:
        files.update(prior_files(job.prior))
    return files


def plan_outputs(names: dict, *, protected: dict):
    """One image's output set and files, checked before any work: image suffixes, writable existing folders, never
    a protected file (an input, a prior's weights or cards), all distinct.

    Args:
        names: {"output": file name, "std", "figure", "json": file name or None}; the JSON defaults to the
            output's stem + .json.
        protected: {path: what it is}.
    """
    from scoreinv.io.output_set import OutputSet

    output = Path(names["output"])
    paths = {"output": output, "std": Path(names["std"]) if names["std"] else None,
             "figure": Path(names["figure"]) if names["figure"] else None,
             "json": Path(names["json"]) if names["json"] else output.with_suffix(".json")}
    flags = {**FLAGS, "json": "--json" if names["json"] else "the JSON sidecar"}
    outputs = OutputSet(protected)
    for key, path in paths.items():
        if path is None:
            continue
        if key != "json" and path.suffix.lower() not in IMAGE_SUFFIXES:
            raise InputError(f"{flags[key]} {path}: use an image file name ending in .png (or .jpg, .tif, .bmp)")
        fix = "choose another name" if names["json"] or key != "json" else "choose another -o or name it with --json"
        outputs.plan(path, flag=flags[key], fix=fix)
    return outputs, paths


def output_bits(job: Job, spec: str, paths: dict) -> int:
    """Bits a sample for the restored image and std map: --bits 8 or 16; --bits auto: 16 when INPUT is a file of
    more than 8 bits a sample and both outputs are PNG or TIFF (a note says when a JPEG or BMP keeps it to 8), else
    8; no --bits: 8, with a note when INPUT has more."""
    from scoreinv.problems.pictures import input_path

    if job.bits in ("8", "16"):
        return int(job.bits)
    path = input_path(spec)
    if path is None or path.suffix.lower() not in IMAGE_SUFFIXES or bit_depth(path) <= 8:
        return 8
    if job.bits is None:
        click.echo(f"note: {spec} has more than 8 bits a sample; the outputs have 8 (--bits 16 or --bits auto keeps "
                   "them)", err=True)
        return 8
    shallow = [p for p in (paths["output"], paths["std"]) if p and image_format(p) not in DEEP_FORMATS]
    if shallow:
        click.echo(f"note: {spec} has more than 8 bits a sample but {shallow[0]} is {image_format(shallow[0])}: "
                   "written with 8 (name a .png or .tif to keep 16)", err=True)
        return 8
    return 16


def check_deep(job: Job, names: dict) -> None:
    """--bits 16 with a JPEG or BMP restored image or std map: refused before any work."""
    if job.bits == "16":
        for key in ("output", "std"):
            if names[key] and Path(names[key]).suffix.lower() in IMAGE_SUFFIXES:
                check_bits(names[key], 16, flag=FLAGS[key])
