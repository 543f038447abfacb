"""``scoreinv train``."""
from __future__ import annotations

from pathlib import Path

import click

from scoreinv.cli.common import SEED, Command, FiniteFloat, max_pixels_option
from scoreinv.errors import InputError


@click.command("train", cls=Command)
@click.argument("data", nargs=-1, type=click.Path(file_okay=False))
@click.option("--name", required=True, help="Run name; checkpoints go to OUT/NAME/checkpoint.pt.")
@click.option("--channels", type=click.IntRange(1, 3), default=1, show_default=True, help="1 grey, 3 colour.")
@click.option("--kind", type=click.Choice(["natural", "ct"]), default="natural", show_default=True,
              help="ct reads 16-bit PNGs holding HU + 1024.")
@click.option("--crop", type=click.IntRange(16), default=64, show_default=True, help="Patch side in pixels.")
@click.option("--batch", type=click.IntRange(1), default=16, show_default=True, help="Patches per step and process.")
@click.option("--steps", type=click.IntRange(1), default=None, help="Total steps [default: 40000].")
@click.option("--lr", type=FiniteFloat(0, low_open=True), default=4e-4, show_default=True, help="Peak learning rate.")
@click.option("--warmup", type=click.IntRange(0), default=1000, show_default=True,
              help="Linear learning-rate warm-up steps, then cosine decay to 5 % at --steps.")
@click.option("--base", type=click.IntRange(4), default=32, show_default=True, help="U-Net width at full resolution.")
@click.option("--mults", default="1,2,4,8", show_default=True, help="Channel multipliers per level.")
@click.option("--blocks", type=click.IntRange(1), default=1, show_default=True, help="Residual blocks per level.")
@click.option("--unshuffle", type=click.Choice(["1", "2", "4"]), default="1", show_default=True,
              help="Pixel-unshuffle stem: the U-Net runs at 1/N the resolution (2: a quarter of the FLOPs).")
@click.option("--precision", type=click.Choice(["auto", "bf16", "fp16", "fp32"]), default="auto", show_default=True,
              help="Autocast dtype of the network; auto: bf16 where the device has it natively, else fp32.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--out", default="runs", show_default=True, type=click.Path(file_okay=False))
@click.option("--checkpoint-minutes", type=FiniteFloat(0, low_open=True), default=5.0, show_default=True,
              help="Checkpoint every so many minutes of training.")
@click.option("--checkpoint-steps", type=click.IntRange(0), default=0, show_default=True,
              help="Also checkpoint every N steps (0: off).")
@click.option("--device", default="auto", show_default=True,
              help="auto, cpu, cuda or cuda:N (where this torch has it).")
@max_pixels_option
@click.option("--threads", type=click.IntRange(0), default=0, show_default=True, help="CPU threads (0: all).")
@click.option("--init-from", default="", type=click.Path(),
              help="Start from a run's checkpoint (OUT/NAME or its checkpoint.pt) or an exported prior (NAME.pt): "
                   "its EMA weights and data statistics; --blocks may be larger (new blocks start as the identity).")
@click.option("--resume", is_flag=True, help="Continue OUT/NAME exactly (its stored settings; --steps may grow).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train_command(data, name, channels, kind, crop, batch, steps, lr, warmup, base, mults, blocks, unshuffle,
                  precision, seed, out, checkpoint_minutes, checkpoint_steps, device, threads, init_from, resume, quiet):
    """Train a score prior by denoising score matching on folders of images.

    \b
    Examples:
      scoreinv train ../shared/data/bsds500/train ../shared/data/bsds500/test --name my-gray
      scoreinv train ../shared/data/ct/train --name my-ct --kind ct --steps 20000
      scoreinv train --name my-gray --resume
      scoreinv train DATA --name my-gray-deep --blocks 2 --init-from runs/my-gray --lr 2e-4   # grow a prior
      torchrun --nproc_per_node 2 -m scoreinv train DATA --name my-gray   # DistributedDataParallel
    """
    from scoreinv.model.devices import resolve_device
    from scoreinv.training.config import TrainConfig, resumed_config
    from scoreinv.training.loop import train

    resolve_device(device)
    _check_out_folder(out)
    if resume:
        config = resumed_config(out, name, steps=steps)
        config.device = device if device != "auto" else config.device
        config.threads = threads or config.threads
    else:
        if not data:
            raise InputError("give at least one DATA folder of training images")
        try:
            mults_tuple = tuple(int(m) for m in mults.split(","))
        except ValueError:
            raise InputError(f"--mults must be comma-separated integers such as 1,2,4,8, got {mults!r}") from None
        config = TrainConfig(data=list(data), name=name, channels=channels, kind=kind, crop=crop, batch=batch,
                             steps=steps or 40000, lr=lr, warmup=warmup, base=base, mults=mults_tuple, blocks=blocks,
                             unshuffle=int(unshuffle),
                             precision=precision, seed=seed, out=out, checkpoint_minutes=checkpoint_minutes,
                             checkpoint_steps=checkpoint_steps, device=device, threads=threads,
                             init_from=init_from)
    path = train(config, resume=resume, progress=not quiet)
    if path is not None:
        click.echo(f"checkpoint: {path}")


def _check_out_folder(out: str) -> None:
    """One-line error, before any work, unless OUT is (or can be made as) a folder this process can write in."""
    import tempfile

    existing = Path(out)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"--out {out}: {existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise InputError(f"--out {out}: cannot write in {existing} ({reason})") from None
