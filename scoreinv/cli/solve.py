"""``scoreinv solve``: restore measured images (or simulate measurements) with a score prior: its options and their
checks (the work: :mod:`scoreinv.cli.solve_image` for one image, :mod:`scoreinv.cli.solve_many` for several)."""
from __future__ import annotations

import click

from scoreinv.cli.common import NOISE, SEED, Command, FiniteFloat, device_option, max_pixels_option
from scoreinv.errors import InputError
from scoreinv.problems.measured import FAMILIES
from scoreinv.problems.tasks import TASKS
from scoreinv.sampling.methods import METHODS
from scoreinv.solve.settings import ROWS

TASK_CHOICES = FAMILIES + tuple(TASKS)
STD_SAMPLES = 4  # samples drawn by default when the std is asked for (--std-map, --figure)
# Options that shape the operator, and the task family each belongs to
OPERATOR_OPTIONS = {"mask": "inpaint", "box": "inpaint", "missing": "inpaint", "kernel": "deblur", "scale": "sr",
                    "angles": "ct", "size": "ct"}
SIMULATE_ONLY = ("box", "missing")


@click.command("solve", cls=Command)
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True)
@click.option("--task", required=True, type=click.Choice(TASK_CHOICES),
              help="inpaint, deblur, sr or ct; with --simulate also a benchmark task of the task table.")
@click.option("--simulate", is_flag=True,
              help="INPUT is a clean image: measure it with the task's operator and noise, then report PSNR, SSIM "
                   "and LPIPS against it.")
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Restored image file [default: INPUT's stem + _restored.png in the current folder]; with several "
                   "INPUTs an output folder (made if missing) or a name holding {stem}, e.g. out/{stem}.tif.")
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
@click.option("--noise", type=NOISE, default=None,
              help="Measurement noise σ_y in [0, 1] image units (sinogram units for ct), or auto to estimate it from "
                   "the measurement [default: the task's: "
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
                   "[default: the task's row, e.g. 1 for wide Gaussian blur, 0 otherwise].")
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
@click.option("--memory-budget", "memory_budget_mb", type=FiniteFloat(0), default=4096, show_default=True,
              help="MB a reconstruction may grow by: larger images are denoised on overlapping tiles blended "
                   "smoothly (the data step stays global); 0: no limit (one network call on the whole image).")
@click.option("--samples", type=click.IntRange(1), default=None,
              help=f"Posterior samples; the output is their mean, the std map their spread [default: 1, or "
                   f"{STD_SAMPLES} with --std-map or --figure].")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Seeds the sampler and any simulation (-2^63 to 2^64 - 1).")
@device_option
@max_pixels_option
@click.option("--grey", "--gray", "channels", flag_value=1, help="Restore in grey (converts colour input).")
@click.option("--colour", "--color", "channels", flag_value=3, help="Restore in colour (repeats grey input).")
@click.option("--bits", type=click.Choice(["8", "16", "auto"]), default=None,
              help="Bits a sample of the restored image and the std map: 16 needs a .png or .tif name; auto: 16 for "
                   "inputs of more than 8 (16-bit or float PNG/TIFF) when the outputs can hold them [default: 8].")
@click.option("--std-map", "std_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the posterior std as a grey PNG (white = the largest std, recorded in the JSON); with "
                   "several INPUTs a name holding {stem}.")
@click.option("--figure", "figure_path", type=click.Path(dir_okay=False), default=None,
              help="Also write measurement | reconstruction | std [| truth] side by side (8-bit); with several "
                   "INPUTs a name holding {stem}.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="JSON sidecar with settings, metrics, NFE and seconds [default: the output's stem + .json]; with "
                   "several INPUTs a name holding {stem}.")
@click.option("--summary", "summary_path", type=click.Path(dir_okay=False), default=None,
              help="Several INPUTs: the CSV of one row per image (status, files, metrics, NFE, seconds, σ_y) "
                   "[default: the output folder's summary.csv; a shard's: summary.shard-I-of-N.csv].")
@click.option("--shard", default=None,
              help="Several INPUTs: solve only images I, I + N, I + 2N, ... (I/N, 0-based) [default: torchrun's "
                   "RANK/WORLD_SIZE when set, else all].")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def solve_command(inputs, task, simulate, output, mask, box, missing, kernel, scale, angles, size, noise, prior,
                  target, method, steps, eta, prior_weight, cg_effort, self_ensemble, memory_budget_mb, samples, seed, device, channels,
                  bits, std_path, figure_path, json_path, summary_path, shard, quiet):
    """Restore INPUT (a measurement, or with --simulate a clean image) with a score-based prior.

    \b
    INPUT is an image file or skimage:NAME (camera, astronaut, coins, brick, moon, ...);
    for ct it is a sinogram .npy (n_angles, detectors) in image values x pixel lengths.
    Several INPUTs or a folder (its images; its .npy files for ct) are solved one by one
    with the same options and seed: one output set each, named after each input's stem,
    a summary CSV, status 1 at the end if any image failed (the others are kept).

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
      scoreinv solve --task inpaint photos/ -o restored/ --std-map 'restored/{stem}_std.png'
      scoreinv solve --task deblur scans/*.tif --kernel gaussian:2 -o 'out/{stem}.tif' --bits 16
      torchrun --nproc-per-node 4 -m scoreinv solve --task sr photos/ -o big/    # or --shard 0/4 ... 3/4
    """
    from scoreinv.cli.solve_image import Job, run_single
    from scoreinv.cli.solve_many import choose_shard, expand_inputs, is_batch, run_batch, torchrun_device
    from scoreinv.model.devices import resolve_device
    from scoreinv.problems.pictures import parse_size

    options = {"mask": mask, "box": box, "missing": missing, "kernel": kernel, "scale": scale, "angles": angles,
               "size": size}
    family = TASKS[task].family if task in TASKS else task
    _check_options(task, family, simulate, options, channels)
    n_samples = samples or (STD_SAMPLES if std_path or figure_path else 1)
    if std_path and n_samples < 2:
        raise InputError("--std-map needs --samples 2 or more (the std is the spread of the samples)")
    batch = is_batch(inputs)
    parts = choose_shard(shard, batch=batch)
    device = torchrun_device(device) if parts and not shard else device
    resolve_device(device)
    options["size"] = parse_size(size) if size else None
    job = Job(task=task, family=family, simulate=simulate, operator=options, noise=noise, prior=prior, target=target,
              method=method, steps=steps, eta=eta, prior_weight=prior_weight, cg_effort=cg_effort,
              self_ensemble=self_ensemble, n_samples=n_samples, seed=seed, device=device, channels=channels,
              bits=bits, quiet=quiet,
              memory_budget=None if not memory_budget_mb else max(memory_budget_mb, 1) * 2 ** 20)
    if not batch:
        if summary_path:
            raise InputError("--summary applies to several INPUTs (a folder or several files)")
        if parts and parts[0] != 0:
            click.echo(f"note: one INPUT: process {parts[0]} of {parts[1]} (RANK/WORLD_SIZE) leaves it to process 0",
                       err=True)
            return
        run_single(job, inputs[0], output=output, std_path=std_path, figure_path=figure_path, json_path=json_path)
        return
    run_batch(job, expand_inputs(inputs, family=family, simulate=simulate), output=output, std_path=std_path,
              figure_path=figure_path, json_path=json_path, summary_path=summary_path, shard=parts)


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
