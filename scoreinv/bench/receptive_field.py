"""How far a prior looks: the effective receptive field of D(x, σ) at the centre pixel, per noise level.

The sensitivity |∂D(x, σ)_c / ∂x| of the centre output pixel c to every input pixel, on a validation image plus
noise σ (Luo et al. 2016's effective receptive field), summarised by the Chebyshev radii (half-widths of centred
squares) that hold 50 %, 90 % and 99 % of it. A hole whose centre lies farther from the known pixels than the
50 % radius is filled mostly from what the network makes up, not from what surrounds the hole.

    python -m scoreinv.bench.receptive_field --prior natural-gray --data bsd68 --size 256
"""
from __future__ import annotations

import argparse

import torch

SHARES = (0.5, 0.9, 0.99)
SIGMAS = (1.0, 0.5, 0.2, 0.05)


def radii(sensitivity: torch.Tensor, shares=SHARES) -> list[int]:
    """The smallest Chebyshev radius around the centre that holds each share of a (H, W) map's total."""
    height, width = sensitivity.shape
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    distance = torch.maximum((rows - height // 2).abs(), (cols - width // 2).abs()).flatten()
    order = distance.argsort()
    cumulative = sensitivity.flatten()[order].double().cumsum(0)
    total = float(cumulative[-1])
    sorted_distance = distance[order]
    return [int(sorted_distance[int(torch.searchsorted(cumulative, share * total))]) for share in shares]


def effective_radii(denoiser, image: torch.Tensor, *, sigmas=SIGMAS, seed: int = 0) -> list[tuple[float, list[int]]]:
    """(σ, radii) for each noise level: the 50/90/99 % radii of |∂D(x, σ)_centre / ∂x| at x = image + σ n.

    Args:
        denoiser: D(x, σ).
        image: (1, C, H, W) in [0, 1].
        sigmas: noise levels, [0, 1] units.
        seed: seeds the noise.
    """
    rows = []
    for sigma in sigmas:
        generator = torch.Generator().manual_seed(seed)
        x = (image + sigma * torch.randn(image.shape, generator=generator)).requires_grad_(True)
        out = denoiser(x, sigma)
        out[0, :, image.shape[-2] // 2, image.shape[-1] // 2].sum().backward()
        rows.append((sigma, radii(x.grad.abs()[0].sum(0))))
    return rows


def markdown_table(rows, *, size: int, crop: int | None) -> str:
    """The radii as a Markdown table."""
    lines = ["| σ | 50 % within | 90 % within | 99 % within | image | training crop |", "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for sigma, (r50, r90, r99) in rows:
        lines.append(f"| {sigma:g} | {r50} px | {r90} px | {r99} px | {size}² | {crop}² |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> str:
    from scoreinv.bench.options import centre_crop
    from scoreinv.io.datasets import load_images
    from scoreinv.priors.registry import load_prior

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prior", default="natural-gray")
    parser.add_argument("--data", default="bsd68", help="validation images [default: bsd68]")
    parser.add_argument("--size", type=int, default=256, help="centre crop side in pixels [default: 256]")
    parser.add_argument("--markdown", default=None, help="also write the table into this page's --section")
    parser.add_argument("--section", default=None)
    args = parser.parse_args(argv)
    denoiser = load_prior(args.prior, device="cpu")
    kind = "ct" if getattr(denoiser, "card", {}).get("kind") == "ct" else None
    _, image = load_images(args.data, kind=kind, limit=1)[0]
    image = centre_crop(image, args.size)[None].float()
    table = markdown_table(effective_radii(denoiser, image), size=args.size, crop=denoiser.card.get("crop"))
    print(table, end="")
    if args.markdown:
        from scoreinv.bench.docs_section import write_section

        command = f"python -m scoreinv.bench.receptive_field --prior {args.prior} --data {args.data} --size {args.size}"
        write_section(args.markdown, args.section, command=command, table=table, device="cpu")
    return table


if __name__ == "__main__":
    main()
