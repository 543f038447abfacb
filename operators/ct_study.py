"""CT projector study: ``python -m operators.benchmark fbp`` measures each projector against scikit-image.

For the Shepp–Logan phantom it prints, per projector ("pixel", the default, and the ray-driven "joseph"), the
relative L2 error of every view against ``skimage.transform.radon(circle=False)``, the PSNR of filtered
back-projection (skimage's ``iradon`` and our ``fbp``) on skimage's and on our sinograms, and the forward and
adjoint times. Needs scikit-image (imported here only).
"""
from __future__ import annotations

import argparse
import math
import statistics
import time
from typing import Dict, List, Sequence

import numpy as np
import torch

from .ct import ParallelBeamCT
from .ct_matrix import PROJECTORS, clear_cache


def _skimage():
    try:
        from skimage.data import shepp_logan_phantom
        from skimage.transform import iradon, radon, resize
    except ImportError as err:
        raise SystemExit(f"the CT study needs scikit-image (pip install scikit-image): {err}")
    return shepp_logan_phantom, radon, iradon, resize


def phantom(size: int) -> np.ndarray:
    """The Shepp–Logan phantom resized (anti-aliased) to size × size, float64 in [0, 1].

    Args:
        size: image side in pixels.
    """
    shepp_logan_phantom, _, _, resize = _skimage()
    return resize(shepp_logan_phantom(), (size, size), anti_aliasing=True)


def psnr(estimate: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB for images in [0, 1] (peak 1) over the whole image."""
    mse = float(np.mean((np.asarray(estimate, np.float64) - truth) ** 2))
    return 10.0 * math.log10(1.0 / mse) if mse > 0 else math.inf


def per_angle_errors(image: np.ndarray, angles: Sequence[float], projector: str) -> Dict[str, object]:
    """Relative L2 error of each view of our sinogram against skimage's ``radon(circle=False)``.

    Args:
        image: (N, N) float64 image.
        angles: projection angles in degrees.
        projector: "pixel" or "joseph".

    Returns:
        dict with ``errors`` (one per angle), ``overall`` (whole sinogram) and ``sinogram`` (ours, (D, n) as skimage).
    """
    _, radon, _, _ = _skimage()
    theta = np.asarray(angles, dtype=np.float64)
    reference = radon(image, theta, circle=False)
    op = ParallelBeamCT(image.shape, theta, detectors=reference.shape[0], projector=projector)
    with torch.no_grad():
        ours = op.A(torch.from_numpy(np.ascontiguousarray(image))[None, None])[0, 0].numpy().T
    errors = np.linalg.norm(ours - reference, axis=0) / np.linalg.norm(reference, axis=0)
    overall = float(np.linalg.norm(ours - reference) / np.linalg.norm(reference))
    return {"errors": errors, "overall": overall, "sinogram": ours, "reference": reference, "operator": op}


def fbp_rows(image: np.ndarray, views: int, projectors: Sequence[str]) -> List[Dict[str, object]]:
    """FBP PSNR (dB) on skimage's sinogram and on each projector's, with skimage ``iradon`` (ramp) and our ``fbp``.

    Args:
        image: (N, N) float64 phantom in [0, 1].
        views: number of views evenly over [0°, 180°).
        projectors: our projectors to compare.
    """
    _, radon, iradon, _ = _skimage()
    theta = np.arange(views) * (180.0 / views)
    reference = radon(image, theta, circle=False)
    rows: List[Dict[str, object]] = []
    n = image.shape[0]

    def recon(sinogram: np.ndarray, op: ParallelBeamCT) -> Dict[str, float]:
        sk = iradon(sinogram, theta, circle=False, filter_name="ramp", output_size=n)
        with torch.no_grad():
            y = torch.from_numpy(np.ascontiguousarray(sinogram.T))[None, None]
            ours = op.fbp(y)[0, 0].numpy()
        return {"iradon": psnr(sk, image), "fbp": psnr(ours, image)}

    for projector in projectors:
        op = ParallelBeamCT(image.shape, theta, detectors=reference.shape[0], projector=projector)
        with torch.no_grad():
            ours = op.A(torch.from_numpy(np.ascontiguousarray(image))[None, None])[0, 0].numpy().T
        rows.append({"views": views, "sinogram": "skimage radon", "fbp_projector": projector,
                     **recon(reference, op)})
        rows.append({"views": views, "sinogram": f"ours ({projector})", "fbp_projector": projector,
                     **recon(ours, op)})
    return rows


def speed(size: int, views: int, projector: str, *, repeats: int = 10) -> Dict[str, float]:
    """Build time and median forward / adjoint milliseconds (float32, batch 1, current torch threads).

    Args:
        size: image side in pixels.
        views: views evenly over [0°, 180°).
        projector: "pixel" or "joseph".
        repeats: timed runs per figure.
    """
    clear_cache()
    op = ParallelBeamCT.sparse_view((size, size), views, projector=projector)
    start = time.perf_counter()
    op.prepare(dtype=torch.float32)
    build = 1e3 * (time.perf_counter() - start)
    x = torch.rand(1, 1, size, size, generator=torch.Generator().manual_seed(0))
    out = {"build_ms": build, "nnz": float(op.nnz)}
    with torch.no_grad():
        y = op.A(x)
        for what, fn in (("A_ms", lambda: op.A(x)), ("A_adjoint_ms", lambda: op.A_adjoint(y))):
            fn()
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            out[what] = 1e3 * statistics.median(times)
    clear_cache()
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m operators.benchmark fbp", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128, help="phantom side in pixels (default 128)")
    parser.add_argument("--views", default="180,60", help="comma-separated view counts (default 180,60)")
    parser.add_argument("--projectors", default=",".join(PROJECTORS), help="projectors (default pixel,joseph)")
    parser.add_argument("--speed-size", type=int, default=256, help="image side for the timings (default 256)")
    parser.add_argument("--speed-views", type=int, default=180, help="views for the timings (default 180)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the timings (default 1)")
    args = parser.parse_args(argv)
    projectors = [p for p in args.projectors.split(",") if p]
    views = [int(v) for v in args.views.split(",") if v]
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    image = phantom(args.size)
    print(f"CT projectors against skimage radon(circle=False): Shepp–Logan {args.size}², torch {torch.__version__}")
    print("\nper-view relative L2 error of our sinogram, 180 views over [0°, 180°)")
    angles = np.arange(180.0)
    shown = [0, 15, 30, 45, 60, 75, 90, 105, 120, 135, 150, 165]
    print(f"{'projector':<10}" + "".join(f"{a:>7d}°" for a in shown) + f"{'max':>9}{'at':>6}{'whole':>9}")
    for projector in projectors:
        r = per_angle_errors(image, angles, projector)
        e = r["errors"]
        print(f"{projector:<10}" + "".join(f"{100 * e[a]:7.2f}%" for a in shown)
              + f"{100 * e.max():8.2f}%{angles[int(e.argmax())]:5.0f}°{100 * r['overall']:8.2f}%")
    print("\nFBP PSNR (dB, peak 1, whole image), ramp filter")
    print(f"{'views':>5}  {'sinogram':<16}{'iradon':>8}{'our fbp':>9}  (our fbp back-projects with that projector)")
    for v in views:
        for row in fbp_rows(image, v, projectors):
            print(f"{row['views']:>5}  {row['sinogram']:<16}{row['iradon']:8.2f}{row['fbp']:9.2f}"
                  f"  [{row['fbp_projector']}]")
    print(f"\nspeed: {args.speed_size}², {args.speed_views} views, float32 CPU, {torch.get_num_threads()} thread(s)")
    print(f"{'projector':<10}{'nnz (M)':>9}{'build ms':>10}{'A ms':>8}{'Aᵀ ms':>8}")
    for projector in projectors:
        s = speed(args.speed_size, args.speed_views, projector)
        print(f"{projector:<10}{s['nnz'] / 1e6:9.2f}{s['build_ms']:10.0f}{s['A_ms']:8.2f}{s['A_adjoint_ms']:8.2f}")


if __name__ == "__main__":
    main()
