"""Bring your own measurement: an operator defined by A and its transpose only (here a random projection,
compressed sensing y = P x + n with a Gaussian P), checked with ``operators.check``, then solved with a score prior.

    python examples/custom_operator.py                       # camera at 64 x 64, 25 % as many measurements as pixels
    python examples/custom_operator.py --ratio 0.5 --steps 100 --out results
"""
from __future__ import annotations

import argparse

import torch
from _shared import add_solver_options, report

import operators as ops
from scoreinv.metrics.quality import psnr
from scoreinv.problems.pictures import read_picture, resize
from scoreinv import reconstruct


class RandomProjection(ops.LinearOperator):
    """y = P vec(x) per channel with P an (m × H·W) Gaussian matrix scaled by 1/√m (so ‖A‖ ≈ 1 + √(H·W/m)).

    Args:
        shape_hw: image (H, W).
        ratio: m / (H·W), in (0, 1].
        seed: seeds P.
        noise: noise model (default noiseless).
    """

    def __init__(self, shape_hw, ratio: float, *, seed: int = 0, noise=None):
        super().__init__(noise=noise)
        self.shape_hw = tuple(shape_hw)
        n = self.shape_hw[0] * self.shape_hw[1]
        m = max(1, round(ratio * n))
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("P", torch.randn(m, n, generator=generator, dtype=torch.float64) / m ** 0.5)

    def A(self, x):
        """(B, C, H, W) → (B, C, m, 1)."""
        b, c = x.shape[:2]
        return (x.reshape(b, c, -1) @ self.P.to(x).T)[..., None]

    def A_adjoint(self, y):
        """(B, C, m, 1) → (B, C, H, W), the exact transpose."""
        b, c = y.shape[:2]
        return (y[..., 0] @ self.P.to(y)).reshape(b, c, *self.shape_hw)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--picture", default="camera", help="scikit-image picture (grey with the default prior)")
    parser.add_argument("--size", type=int, default=64, help="side in pixels the picture is resized to")
    parser.add_argument("--ratio", type=float, default=0.25, help="measurements per pixel, in (0, 1]")
    parser.add_argument("--noise", type=float, default=0.01, help="sigma_y in [0, 1] image units")
    add_solver_options(parser, "custom_operator.png")
    args = parser.parse_args(argv)

    truth = resize(read_picture(f"skimage:{args.picture}"), (args.size, args.size))[None]
    operator = RandomProjection(truth.shape[-2:], args.ratio, seed=args.seed, noise=ops.GaussianNoise(args.noise))

    # The invariant kit: adjoint, linearity, A A⁺ A = A (A⁺ by conjugate gradients), prox, norm, batch, dtypes
    checked = ops.check(operator, (2, *truth.shape[1:]))
    print(checked)
    checked.raise_if_failed()

    y = operator.measure(truth, generator=torch.Generator().manual_seed(args.seed))
    least_norm = operator.A_dagger(y.double()).float().clamp(0, 1)  # minimum-norm least squares, for comparison
    result = reconstruct(y, operator, prior=args.prior, steps=args.steps, seed=args.seed, device=args.device)

    scores = {"minimum norm": float(psnr(least_norm[0], truth[0])),
              "score prior": float(psnr(result.mean[0].cpu(), truth[0]))}
    title = f"{args.picture} {args.size}x{args.size}, {args.ratio:.0%} random projections, sigma_y {args.noise}"
    return report(title, scores, result, args.out / "custom_operator.png",
                  [least_norm[0], result.mean[0].cpu(), truth[0]],
                  ["minimum norm", "score prior", "truth"])


if __name__ == "__main__":
    main()
