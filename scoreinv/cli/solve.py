"""``scoreinv solve``: restore a measured image (or simulate a measurement) with a score prior."""
from __future__ import annotations

from pathlib import Path

import click

from scoreinv.cli.common import SEED, Command, FiniteFloat, device_option, max_pixels_option
from scoreinv.errors import InputError
from scoreinv.io.images import IMAGE_SUFFIXES
from scoreinv.problems.measured import DEFAULT_TASK, FAMILIES
from scoreinv.problems.tasks import TASKS
from scoreinv.sampling.methods import METHODS
from scoreinv.solve.settings import ROWS

TASK_CHOICES = FAMILIES + tuple(TASKS)
STD_SAMPLES = 4  # samples drawn by default when the std is asked for (--std-map, --figure)
MEASURED_NOISE = {family: TASKS[task].sigma_y for family, task in DEFAULT_TASK.items()}
# Options that shape the operator, and the task family each belongs to
OPERATOR_OPTIONS = {"mask": "inpaint", "box": "inpaint", "missing": "inpaint", "kernel": "deblur", "scale": "sr",
                    "angles": "ct", "size": "ct"}
SIMULATE_ONLY = ("box", "missing")


@click.command("solve", cls=Command)
@click.argument("input_spec", metavar="INPUT")
@click.option("--task", required=True, type=click.Choice(TASK_CHOICES),
              help="inpaint, deblur, sr or ct; with --simulate also a benchmark task of the task table.")
@click.option("--simulate", is_flag=True,
              help="INPUT is a clean image: measure it with the task's operator and noise, then report PSNR, SSIM "
                   "and LPIPS against it.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Restored PNG [default: INPUT's stem + _restored.png in the current folder].")
@click.option("--mask", type=click.Path(dir_okay=False), default=None,
              help="inpaint: mask image, white = known, black = missing [default: INPUT's alpha channel; "
                   "--simulate: a random mask].")
@click.option("--box", default=None,
              help="inpaint --simulate: a missing box, FRACTION of the image (centred) or HxW[+TOP+LEFT] pixels.")
@click.option("--missing", type=FiniteFloat(0, 1, low_open=True, high_open=True), default=None,
              help="inpaint --simulate: fraction of pixels missing at random [default: 0.7].")
@click.option("--kernel", default=None,
              help="deblur: gaussian:SIGMA[,SIZE], motion:LENGTH,ANGLE, levin:1..8, or a .npy / image file "
                   "(pixels, degrees) [--simulate default: gaussian sigma 3, 25x25].")
@click.option("--scale", type=click.IntRange(2, 16), default=None,
              help="sr: integer factor; INPUT is the low-resolution image [default: 4].")
@click.option("--angles", default=None,
              help="ct: N views over 180°, START:STOP:N degrees (STOP excluded), or a .npy/.txt of degrees "
                   "[default: the sinogram's rows over 180°; --simulate: 30].")
@click.option("--size", default=None,
              help="ct: image size H or HxW in pixels [default: 256 for sinograms; --simulate: the picture's own].")
@click.option("--noise", type=FiniteFloat(0, 1), default=None,
              help="Measurement noise σ_y in [0, 1] image units (sinogram units for ct) [default: the task's: "
                   "inpaint 0, deblur 0.01, sr 0.01, ct 0.1].")
@click.option("--prior", default=None,
              help="A shipped prior's name or a NAME.pt path [default: natural-gray / natural-color by channels, "
                   "ct for ct].")
@click.option("--target", type=click.Choice(["estimate", "sample"]), default="estimate", show_default=True,
              help="estimate: the best point estimate (highest PSNR); sample: posterior draws (split Gibbs), whose "
                   "spread is the std map (docs/sampling.md).")
@click.option("--method", type=click.Choice(list(METHODS)), default=None,
              help="Guidance method [default: the task's row in scoreinv.solve.settings (pnp)].")
@click.option("--steps", type=click.IntRange(1), default=None,
              help="Network evaluations per sample [default: the task's row in scoreinv.solve.settings, 20-40].")
@click.option("--eta", type=FiniteFloat(0, 1), default=None,
              help="Share of fresh noise re-injected each step, 0 (a point estimate) to 1 (posterior sampling) "
                   "[default: the task's row, e.g. 1 for wide Gaussian blur, 0.5 for motion blur, 0 otherwise].")
@click.option("--prior-weight", type=FiniteFloat(0, low_open=True), default=None,
              help="λ, the prior's weight against the measurement in plug-and-play [default: the task's row, "
                   "0.23 (DPIR) or 0.3 for blurs that keep most frequencies].")
@click.option("--cg-effort", type=FiniteFloat(0, low_open=True), default=None,
              help="CT: conjugate-gradient iterations per data step, in units of the square root of its condition "
                   "number (more is slower and closer to the data) [default: the task's row, "
                   f"{ROWS['ct-sparse'].settings.cg_effort:g} for sparse-view CT, {ROWS['ct-limited'].settings.cg_effort:g} "
                   "for limited-angle CT].")
@click.option("--self-ensemble/--no-self-ensemble", default=None,
              help="Cycle the prior through flips and 90° rotations, one a step (no extra cost) [default: on for "
                   "priors trained with them, as every shipped one is].")
@click.option("--samples", type=click.IntRange(1), default=None,
              help=f"Posterior samples; the output is their mean, the std map their spread [default: 1, or "
                   f"{STD_SAMPLES} with --std-map or --figure].")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Seeds the sampler and any simulation (-2^63 to 2^64 - 1).")
@device_option
@max_pixels_option
@click.option("--grey", "--gray", "channels", flag_value=1, help="Restore in grey (converts colour input).")
@click.option("--colour", "--color", "channels", flag_value=3, help="Restore in colour (repeats grey input).")
@click.option("--std-map", "std_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the posterior std as a grey PNG (white = the largest std, recorded in the JSON).")
@click.option("--figure", "figure_path", type=click.Path(dir_okay=False), default=None,
              help="Also write measurement | reconstruction | std [| truth] side by side.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="JSON sidecar with settings, metrics, NFE and seconds [default: the output's stem + .json].")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def solve_command(input_spec, task, simulate, output, mask, box, missing, kernel, scale, angles, size, noise, prior,
                  target, method, steps, eta, prior_weight, cg_effort, self_ensemble, samples, seed, device, channels,
                  std_path, figure_path, json_path, quiet):
    """Restore INPUT (a measurement, or with --simulate a clean image) with a score-based prior.

    \b
    INPUT is an image file or skimage:NAME (camera, astronaut, coins, brick, moon, ...);
    for ct it is a sinogram .npy (n_angles, detectors) in image values x pixel lengths.

    \b
    Examples:
      scoreinv solve --task inpaint --simulate skimage:camera -o camera_restored.png
      scoreinv solve --task inpaint photo.png --mask mask.png --figure fig.png
      scoreinv solve --task inpaint photo_with_holes_rgba.png
      scoreinv solve --task deblur blurry.png --kernel motion:15,30 --noise 0.01
      scoreinv solve --task deblur blurry.png --kernel kernel.npy
      scoreinv solve --task sr small.png --scale 4 --std-map std.png
      scoreinv solve --task inpaint photo.png --mask mask.png --target sample --samples 8 --std-map std.png
      scoreinv solve --task ct sinogram.npy --angles 30 --size 256
      scoreinv solve --task ct-limited --simulate slice.png --samples 4
      scoreinv solve --task deblur-motion --simulate skimage:brick --steps 100
      scoreinv solve --task deblur-gauss --simulate skimage:camera --eta 0
    """
    from scoreinv.model.devices import resolve_device
    from scoreinv.problems.pictures import parse_size
    from scoreinv.problems.simulated import simulated

    options = {"mask": mask, "box": box, "missing": missing, "kernel": kernel, "scale": scale, "angles": angles,
               "size": size}
    family = TASKS[task].family if task in TASKS else task
    _check_options(task, family, simulate, options, channels)
    n_samples = samples or (STD_SAMPLES if std_path or figure_path else 1)
    if std_path and n_samples < 2:
        raise InputError("--std-map needs --samples 2 or more (the std is the spread of the samples)")
    resolve_device(device)
    protected = _input_files(input_spec, mask=mask, kernel=kernel, angles=angles, prior=prior)
    outputs, paths = _plan_outputs(input_spec, output, std_path, figure_path, json_path, protected=protected)

    # The problem
    size_hw = parse_size(size) if size else None
    if simulate:
        problem = simulated(task, input_spec, mask=mask, box=box, missing=missing, kernel=kernel,
                            scale=scale, angles=angles, size=size_hw, noise=noise, channels=channels, seed=seed)
    else:
        sigma_y = MEASURED_NOISE[family] if noise is None else noise
        problem = _measured(family, input_spec, mask=mask, kernel=kernel, scale=scale or 4, angles=angles,
                            size=size_hw, noise=sigma_y, channels=channels)
    for note in problem.notes:
        click.echo(f"note: {note}", err=True)

    # The reconstruction
    from scoreinv.priors.registry import default_prior, load_prior, prior_files
    from scoreinv.solve.reconstruct import reconstruct

    x_channels = problem.image_shape[1]
    name = prior or default_prior(family, x_channels)
    if prior is None:
        outputs.protect(prior_files(name))
    denoiser = load_prior(name, device=device)
    if denoiser.channels not in (None, x_channels):
        fix = {1: "--grey", 3: "--colour"}.get(denoiser.channels, "another --prior")
        raise InputError(f"prior {denoiser.name!r} models {denoiser.channels}-channel images but the image has "
                         f"{x_channels}; add {fix} or choose another --prior")
    result = reconstruct(problem.y, problem.operator, prior=denoiser, method=method, steps=steps,
                         n_samples=n_samples, target=target, seed=seed, device=device, eta=eta,
                         prior_weight=prior_weight,
                         cg_effort=cg_effort, self_ensemble=self_ensemble, progress=not quiet)
    restored = result.mean[0].cpu()
    if not bool(restored.isfinite().all()):
        raise InputError(f"the reconstruction holds NaN or infinite values (method {result.settings['method']} "
                         "diverged); nothing was written; try another --method or --noise above 0")

    # The outputs: one transaction, the JSON sidecar last
    from scoreinv.cli.solve_report import queue_outputs, summary

    record = queue_outputs(outputs, paths, problem=problem, result=result, restored=restored, input_spec=input_spec,
                           simulate=simulate)
    outputs.commit()
    click.echo(summary(record["metrics"], result, paths))


def _check_options(task: str, family: str, simulate: bool, options: dict, channels: int | None) -> None:
    """One-line errors for options that do not fit the task or the mode."""
    if task in TASKS and not simulate:
        raise InputError(f"--task {task} is a simulated benchmark task: add --simulate, or use --task {family} for a "
                         f"real measurement")
    for option, value in options.items():
        if value is None:
            continue
        flag = f"--{option}"
        if OPERATOR_OPTIONS[option] != family:
            raise InputError(f"{flag} applies to --task {OPERATOR_OPTIONS[option]}, not {task}")
        if task in TASKS and option != "size":
            raise InputError(f"{flag} changes the operator of task {task}; use --task {family} {flag} ... instead")
        if option in SIMULATE_ONLY and not simulate:
            raise InputError(f"{flag} draws a simulated mask; add --simulate, or pass the real mask with --mask")
    if family == "ct" and channels == 3:
        raise InputError("CT images are grey; drop --colour")


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


def _input_files(input_spec: str, *, mask, kernel, angles, prior) -> dict:
    """{path: what it is} of every file an option names, which no output may replace."""
    from scoreinv.priors.registry import prior_files
    from scoreinv.problems.pictures import input_path

    files = {input_path(input_spec): "the input file", Path(mask) if mask else None: "the --mask file"}
    for value, flag in ((kernel, "--kernel"), (angles, "--angles")):
        if value and Path(value).is_file():
            files[Path(value)] = f"the {flag} file"
    if prior is not None:
        files.update(prior_files(prior))
    return files


def _plan_outputs(input_spec: str, output, std_path, figure_path, json_path, *, protected: dict):
    """The output set and its files, checked before any work: image suffixes, writable existing folders, never a
    protected file (an input, a prior's weights or cards), all distinct."""
    from scoreinv.io.output_set import OutputSet
    from scoreinv.problems.pictures import input_stem

    output = Path(output) if output else Path.cwd() / f"{input_stem(input_spec)}_restored.png"
    paths = {"output": output, "std": Path(std_path) if std_path else None,
             "figure": Path(figure_path) if figure_path else None,
             "json": Path(json_path) if json_path else output.with_suffix(".json")}
    flags = {"output": "-o", "std": "--std-map", "figure": "--figure",
             "json": "--json" if json_path else "the JSON sidecar"}
    outputs = OutputSet(protected)
    for key, path in paths.items():
        if path is None:
            continue
        if key != "json" and path.suffix.lower() not in IMAGE_SUFFIXES:
            raise InputError(f"{flags[key]} {path}: use an image file name ending in .png (or .jpg, .tif, .bmp)")
        fix = "choose another name" if json_path or key != "json" else "choose another -o or name it with --json"
        outputs.plan(path, flag=flags[key], fix=fix)
    return outputs, paths
