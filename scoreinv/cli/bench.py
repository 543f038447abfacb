"""``scoreinv bench …``: benchmarks that print figures."""
from __future__ import annotations

import json
import shlex
from pathlib import Path

import click

from scoreinv.bench.peers import PEERS
from scoreinv.cli.common import Group, device_option
from scoreinv.cli.markdown import check_markdown, markdown_options
from scoreinv.errors import InputError
from scoreinv.sampling.methods import METHODS
from scoreinv.solve.settings import TARGETS


crop_option = click.option("--crop", type=click.IntRange(8), default=None,
                           help="Centre-crop every image to N x N pixels first [default: whole images].")


def parse_sigmas(text: str) -> list[float]:
    """"15/255,25/255" or "0.05" → [0.0588…, …] ([0, 1] units)."""
    values = []
    for part in text.split(","):
        try:
            num, _, den = part.strip().partition("/")
            values.append(float(num) / (float(den) if den else 1.0))
        except ValueError:
            raise InputError(f"--sigmas takes numbers such as 25/255,0.05, got {part!r}") from None
        if not values[-1] > 0:
            raise InputError(f"noise levels must be > 0, got {part!r}")
    return values


@click.group("bench", cls=Group)
def bench_group():
    """Benchmarks that print figures (quality, speed)."""


@bench_group.command("denoise")
@click.option("--prior", default="natural-gray", show_default=True, help="A shipped prior's name or a NAME.pt path.")
@click.option("--data", default=None, help="set12, bsd68, cbsd68, ct-test or a folder [default: the prior's test set].")
@click.option("--sigmas", default=None, help="Noise levels, e.g. 15/255,25/255,50/255 [default: the prior's].")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N images.")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default=None,
              help="Network arithmetic [default: fp16 on CUDA, bf16 on CPUs that have it natively, else fp32].")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write the figures here.")
@click.option("--bm3d", is_flag=True, help="Also BM3D on the same noise draws (needs pip install 'scoreinv[bm3d]'; "
                                           "free for non-commercial use only).")
@device_option
@markdown_options
def denoise_command(prior, data, sigmas, limit, precision, json_path, bm3d, device, markdown, section):
    """PSNR of one call D(y, σ) on Gaussian-noised test images, beside a Gaussian filter whose width is
    chosen on training images.

    \b
    Examples:
      scoreinv bench denoise --prior natural-gray --data set12 --sigmas 15/255,25/255,50/255
      scoreinv bench denoise --prior ct --data ct-test --sigmas 0.05
      scoreinv bench denoise --prior natural-gray --markdown docs/training.md --section denoise-natural-gray
    """
    from scoreinv.bench.denoise_report import DENOISE_SETS, denoise_table, measure_denoising
    from scoreinv.bench.docs_section import write_section
    from scoreinv.io.atomic import atomic_path
    from scoreinv.priors.registry import load_prior

    check_markdown(markdown, section)
    denoiser = load_prior(prior, device=device, precision=precision)
    default_data, default_sigmas = DENOISE_SETS[(denoiser.card["kind"], denoiser.card["channels"])]
    report, command = measure_denoising(denoiser, prior, dataset=data or default_data,
                                        sigmas=parse_sigmas(sigmas) if sigmas else default_sigmas, limit=limit,
                                        bm3d=bm3d)
    click.echo(f"\n{command}  ({report['images']} images, {report['precision']})")
    table = denoise_table(report)
    click.echo(table)
    if markdown:
        write_section(markdown, section, command=command, device=next(denoiser.parameters()).device,
                      table=f"{report['images']} images, the network in {report['precision']}.\n\n{table}")
    if json_path:
        with atomic_path(json_path) as tmp:
            tmp.write_text(json.dumps(report, indent=1))


@bench_group.command("tasks")
@click.option("--tasks", "task_names", default=None,
              help="Comma-separated tasks, e.g. inpaint-random,deblur-gauss,sr4 [default: every grey task; the CT "
                   "tasks for ct-test].")
@click.option("--data", default="set12", show_default=True,
              help="set12, bsd68, cbsd68, ct-test (from ../shared/data) or a folder of images (read as CT "
                   "slices, 16-bit HU + 1024 PNGs at their own size, when every task is a CT task).")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N images.")
@click.option("--prior", default=None,
              help="A prior's name or NAME.pt path for every task [default: natural-gray / natural-color by the "
                   "images' channels, ct for CT tasks].")
@click.option("--all-methods", is_flag=True,
              help=f"Run every guidance method ({', '.join(METHODS)}), not only each task's default.")
@click.option("--peers", is_flag=True,
              help=f"Also run DeepInverse's {', '.join(PEERS)} with the same prior, each at its knobs tuned for the "
                   "task on validation images, else DeepInverse's defaults (needs pip install scoreinv[peers]).")
@click.option("--peer-steps", type=click.IntRange(1), default=None,
              help="Every peer's iterations [default: each peer's tuned NFE for the task, else its usual: "
                   + ", ".join(f"{name} {peer.usual_nfe}" for name, peer in PEERS.items()) + "].")
@click.option("--shard", default=None,
              help="i/n: take images i, i+n, i+2n, ... (0-based) [default: RANK/WORLD_SIZE under torchrun, else "
                   "all]; combine the parts with 'scoreinv bench merge'.")
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False),
              help="Output folder: results.json, results.csv, summary.md, figure.png.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Measurement noise and samplers use SEED + the image's index.")
@device_option
@click.option("--steps", type=click.IntRange(1), default=None,
              help="scoreinv's network evaluations per sample [default: each task family's, see "
                   "scoreinv.solve.settings].")
@click.option("--samples", type=click.IntRange(1), default=1, show_default=True,
              help="scoreinv's posterior samples per image (their mean is scored; NFE counts all of them).")
@click.option("--target", type=click.Choice(list(TARGETS)), default="estimate", show_default=True,
              help="scoreinv's target: the settings rows' point estimate, or posterior draws (one draw is scored "
                   "when --samples is 1).")
@crop_option
@click.option("--figure-std/--no-figure-std", default=True, show_default=True,
              help="With --samples 1, an extra 2-sample run on the first image for the figure's std map.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@markdown_options
def tasks_command(task_names, data, limit, prior, all_methods, peers, peer_steps, shard, out, seed, device, steps,
                  samples, target, crop, figure_std, quiet, markdown, section):
    """Quality of scoreinv on the benchmark tasks beside classical baselines (and DeepInverse peers): PSNR, SSIM,
    LPIPS, seconds, NFE and peak memory per image, on the same simulated measurements for every method.

    \b
    Writes OUT/results.json, results.csv, summary.md and figure.png (rows: tasks; columns: truth, measurement,
    best baseline, scoreinv, std map, for the data set's first image) and prints the table. When --samples is 1,
    the figure's std map comes from an extra 2-sample run on that image, which is not scored.

    \b
    Examples:
      scoreinv bench tasks --data set12 --out bench/set12
      scoreinv bench tasks --data ct-test --out bench/ct --all-methods
      scoreinv bench tasks --data cbsd68 --limit 10 --tasks inpaint-random,sr4 --out bench/cbsd68
      scoreinv bench tasks --data bsd68 --shard 0/4 --out bench/part0   # ... 3/4, then bench merge
      scoreinv bench tasks --data set12 --out bench/set12 --markdown docs/benchmarks.md --section set12
      scoreinv bench tasks --data set12 --limit 4 --target sample --out bench/set12-sample
      scoreinv bench tasks --data set12 --limit 2 --crop 128 --peers --out bench/peers
    """
    from scoreinv.bench.options import BenchOptions, parse_shard, parse_tasks, shard_from_env
    from scoreinv.bench.report import comparison_figure, make_record, write_outputs
    from scoreinv.bench.runner import run_benchmark
    from scoreinv.model.devices import resolve_device

    check_markdown(markdown, section)
    names = parse_tasks(task_names, data)
    parts = parse_shard(shard) if shard else shard_from_env()
    out = Path(out) / f"shard-{parts[0]}-of-{parts[1]}" if parts and not shard else Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: is a file, expected a folder")
    if Path(data).is_dir() and out.resolve() == Path(data).resolve():
        raise InputError(f"--out {out} is the --data folder; its figure.png would join the images, choose another")
    resolved = resolve_device(device)
    options = BenchOptions(tasks=names, data=data, limit=limit, prior=prior, all_methods=all_methods, peers=peers,
                           shard=parts or (0, 1), seed=seed, device=str(resolved), steps=steps, samples=samples,
                           peer_steps=peer_steps, progress=not quiet, target=target, crop=crop,
                           figure_std=figure_std)
    run = run_benchmark(options)
    record = make_record(run, options, command=_tasks_command_line(options, out), device=resolved)
    figure = comparison_figure(run.figure_parts, list(names))
    write_outputs(out, record, figure=figure)
    _report(record, out, markdown=markdown, section=section)
    if parts and not shard:
        click.echo(f"shard {parts[0]}/{parts[1]} (from RANK/WORLD_SIZE); combine the parts with: scoreinv bench merge "
                   f"{shlex.quote(str(out.parent))}/shard-*-of-{parts[1]} -o {shlex.quote(str(out.parent))}", err=True)


@bench_group.command("tune")
@click.option("--task", "task_name", required=True, help="The task to tune, e.g. sr4 or inpaint-box.")
@click.option("--grid", multiple=True, help="NAME=V1,V2 (repeatable): settings to try, e.g. sigma_start=0.05,0.1 "
                                            "steps=20,40 prior=natural-gray,natural-gray-fast; every combination runs, beside the row's own (with "
                                            "--peer: the peer's knobs and steps, beside DeepInverse's defaults).")
@click.option("--peer", type=click.Choice(list(PEERS)), default=None,
              help="Tune a DeepInverse peer driven by the same prior instead of reconstruct; knobs: "
                   + "; ".join(f"{name} {', '.join(peer.knobs)}" for name, peer in PEERS.items())
                   + " (needs pip install scoreinv[peers]).")
@click.option("--peer-steps", type=click.IntRange(1), default=None,
              help="With --peer: its iterations at every point without a steps= value [default: its usual NFE, "
                   + ", ".join(f"{name} {peer.usual_nfe}" for name, peer in PEERS.items()) + "].")
@click.option("--data", default="bsd68", show_default=True,
              help="Validation images: bsd68, or a folder (CT slices for CT tasks); reported sets are refused.")
@click.option("--limit", type=click.IntRange(1), default=4, show_default=True, help="Images used.")
@crop_option
@click.option("--prior", default=None, help="A prior's name or NAME.pt path [default: the task family's].")
@click.option("--seed", type=click.IntRange(0, 2 ** 63 - 1), default=0, show_default=True)
@device_option
@markdown_options
def tune_command(task_name, grid, peer, peer_steps, data, limit, crop, prior, seed, device, markdown, section):
    """Score a grid of reconstruct settings (or of a DeepInverse peer's knobs) for one task on validation images
    (never a reported test set), on the same simulated measurements and seeds for every point, and print the
    table and the best point.

    \b
    Examples:
      scoreinv bench tune --task sr4 --grid sigma_start=0.05,0.1,0.2 --grid steps=20,40
      scoreinv bench tune --task inpaint-box --grid sigma_start=0.1,0.3,0.5 --markdown docs/tuning.md --section inpaint-box
      scoreinv bench tune --peer diffpir --task sr4 --data bsd68 --limit 2 --crop 128 --grid lambda=3,7,15 --grid zeta=0.3,1
    """
    from scoreinv.bench.docs_section import write_section
    from scoreinv.bench.tune import OWN_LABEL, best, label, markdown_table, parse_grid, refuse_reported, tune

    check_markdown(markdown, section)
    refuse_reported(data)
    points = parse_grid(list(grid), peer=peer)
    if peer_steps and not peer:
        raise InputError("--peer-steps goes with --peer (for reconstruct, put steps=N in --grid)")
    if peer:
        from scoreinv.bench.peers import skip_note

        if skip_note():
            click.echo(skip_note())
            return
    candidates = tune(task_name, points, data=data, limit=limit, seed=seed, device=device, prior=prior, peer=peer,
                      peer_steps=peer_steps, crop=crop)
    own = OWN_LABEL["peer" if peer else None]
    table = markdown_table(candidates, own=own)
    click.echo(table, nl=False)
    click.echo(f"best: {label(best(candidates), own=own)}")
    if markdown:
        from scoreinv.model.devices import resolve_device

        command = _tune_command_line(task_name, grid, peer=peer, peer_steps=peer_steps, data=data, limit=limit,
                                     crop=crop, seed=seed, prior=prior)
        write_section(markdown, section, command=command, device=str(resolve_device(device)),
                      table=table + f"\nBest: {label(best(candidates), own=own)}.")


def _tune_command_line(task_name, grid, *, peer, peer_steps, data, limit, crop, seed, prior) -> str:
    """The ``scoreinv bench tune`` command line that reproduces a tuning run."""
    optional = [("--peer-steps", peer_steps), ("--crop", crop)]
    return shlex.join(["scoreinv", "bench", "tune", *(["--peer", peer] if peer else []), "--task", task_name,
                       *[v for g in grid for v in ("--grid", g)], "--data", data, "--limit", str(limit),
                       *[str(v) for flag, value in optional if value for v in (flag, value)], "--seed", str(seed),
                       *(["--prior", prior] if prior else [])])


@bench_group.command("merge")
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False),
              help="Output folder for the combined results.json, results.csv, summary.md (and figure.png).")
@markdown_options
def merge_command(inputs, out, markdown, section):
    """Combine the results of 'scoreinv bench tasks --shard i/n' runs (folders or results.json files) into one
    table. Runs may differ in --limit only, so a run on the first N images can be extended with later ones.

    \b
    Examples:
      scoreinv bench merge bench/part0 bench/part1 bench/part2 bench/part3 -o bench/bsd68
      scoreinv bench merge bench/first3 bench/fourth -o bench/first4   # the second run: --limit 4 --shard 3/4
    """
    from scoreinv.bench.report import FIGURE_PNG, merge_records, read_record, write_outputs

    check_markdown(markdown, section)
    records = [read_record(path) for path in inputs]
    command = "scoreinv bench merge " + " ".join(shlex.quote(p) for p in inputs) + f" -o {shlex.quote(out)}"
    record = merge_records(records, list(inputs), command=command)
    folders = [Path(p) if Path(p).is_dir() else Path(p).parent for p in inputs]
    figures = [folder / FIGURE_PNG for folder in folders if (folder / FIGURE_PNG).is_file()]
    write_outputs(out, record, figure_from=figures[0] if figures else None)
    _report(record, Path(out), markdown=markdown, section=section)


@bench_group.command("goals")
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@markdown_options
def goals_command(inputs, markdown, section):
    """Check the project's targets against 'scoreinv bench tasks' results (results.json files or their folders):
    per data set and task, scoreinv's default against the best baseline, the absolute targets (full uncropped
    sets), the DeepInverse peers at a fraction of DPS's NFE (within the record that holds them) and LPIPS below
    every baseline and peer (estimate and sample-target rows, each within its own record).

    \b
    Examples:
      scoreinv bench goals bench/set12/results.json bench/peers/results.json bench/set12-sample/results.json
      scoreinv bench goals bench/set12 bench/ct-test bench/peers --markdown docs/benchmarks.md --section goals
    """
    from scoreinv.bench.docs_section import write_section
    from scoreinv.bench.goals import goals_markdown, read_sources

    check_markdown(markdown, section)
    text = goals_markdown(read_sources(inputs))
    click.echo(text, nl=False)
    if markdown:
        write_section(markdown, section, command=shlex.join(["scoreinv", "bench", "goals", *inputs]), table=text)
        click.echo(f"wrote section {section!r} of {markdown}", err=True)


def _tasks_command_line(options, out: Path) -> str:
    """The command line that reproduces a run, every option spelled out."""
    parts = ["scoreinv", "bench", "tasks", "--tasks", ",".join(options.tasks), "--data", options.data]
    optional = [("--limit", options.limit), ("--prior", options.prior), ("--peer-steps", options.peer_steps),
                ("--steps", options.steps), ("--crop", options.crop)]
    parts += ["--target", options.target] if options.target != "estimate" else []
    parts += ["--no-figure-std"] if not options.figure_std else []
    parts += [str(v) for flag, value in optional if value is not None for v in (flag, value)]
    parts += ["--all-methods"] if options.all_methods else []
    parts += ["--peers"] if options.peers else []
    parts += ["--shard", f"{options.shard[0]}/{options.shard[1]}"] if options.shard[1] > 1 else []
    parts += ["--samples", str(options.samples), "--seed", str(options.seed), "--device", options.device,
              "--out", str(out)]
    return shlex.join(parts)


def _report(record: dict, out: Path, *, markdown=None, section=None) -> None:
    """Print the table, the notes (stderr) and what was written; with ``markdown``, also write the table into that
    page's section under the run's command line."""
    from scoreinv.bench.docs_section import record_provenance, write_section
    from scoreinv.bench.report import markdown_table

    table = markdown_table(record["summary"])
    click.echo(table)
    if markdown:
        write_section(markdown, section, command=record["command"], table=table, stamp=record_provenance(record))
        click.echo(f"wrote section {section!r} of {markdown}", err=True)
    for note in record["notes"]:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {out}/ (results.json, results.csv, summary.md"
               + (", figure.png" if (out / "figure.png").is_file() else "") + ")", err=True)


from scoreinv.cli.bench_coverage import coverage_command  # noqa: E402 - its own file
from scoreinv.cli.bench_speed import speed_command  # noqa: E402 - its own file; registered in the group here

bench_group.add_command(speed_command)
bench_group.add_command(coverage_command)
