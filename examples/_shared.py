"""What every example shares: the solver's command-line options and the printed / drawn report."""
from __future__ import annotations

import argparse
from pathlib import Path

from scoreinv.io.figures import side_by_side
from scoreinv.io.images import write_image


def add_solver_options(parser: argparse.ArgumentParser, figure: str, *, prior: str | None = None) -> None:
    """--prior (default ``prior``, or chosen from the image), --steps, --seed, --device and --out (the folder that
    receives ``figure``)."""
    parser.add_argument("--prior", default=prior, help=f"prior name or NAME.pt [default: {prior or 'from the image'}]")
    parser.add_argument("--steps", type=int, default=None,
                        help="network evaluations [default: the task's row of scoreinv.solve.settings]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu or cuda [default: cuda when available]")
    parser.add_argument("--out", type=Path, default=Path("."), help=f"folder for {figure}")


def report(title: str, scores: dict, result, figure: Path, panels: list, labels: list) -> dict:
    """Print the PSNR of each method with the reconstruction's cost, write the figure, return ``scores``."""
    print(f"{title}:  " + ",  ".join(f"{name} {value:.2f} dB" for name, value in scores.items())
          + f"  ({result.nfe} network evaluations, {result.seconds:.1f} s)")
    write_image(figure, side_by_side(panels, labels=labels))
    print(f"wrote {figure}")
    return scores
