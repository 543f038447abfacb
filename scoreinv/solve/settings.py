"""The one table of default sampler settings per kind of task, chosen by measurement with ``scoreinv bench tasks``.

Each row was picked on Set12 (grey) / ct-test with the shipped priors, the two deblur rows on BSD68 (a validation
set); the measured figures are in README.md.
Change a row only with a benchmark run that shows the new setting is better. ``default_settings(operator)``
picks the row from the operator itself (rule in :func:`task_of`), so ``reconstruct(y, op)`` needs no task name.
"""
from __future__ import annotations

from dataclasses import dataclass

from scoreinv.sampling.guidance import DPIR_PRIOR_WEIGHT
from scoreinv.solve.rows import task_of


@dataclass
class Settings:
    """Sampler settings of one reconstruction.

    Attributes:
        method: guidance method ("pnp", "dc", "dps", "pc", "langevin", "mixing").
        steps: network evaluations per sample.
        sigma_start: first noise level, [0, 1] units (used with a warm start).
        sigma_end: last noise level, [0, 1] units.
        eta: fresh-noise share of the ancestral and plug-and-play methods, [0, 1].
        warm_start: "baseline", "dagger", "fbp", "adjoint" or "none".
        prior_weight: λ of plug-and-play's data step (DPIR's prior weight, > 0; larger trusts the prior more).
        cg_effort: conjugate-gradient budget of an iterative data step, in units of √κ (see
            :class:`~scoreinv.sampling.guidance.DataConsistency`); None: the operator's own stopping rule.
    """

    method: str
    steps: int
    sigma_start: float
    sigma_end: float
    eta: float
    warm_start: str
    prior_weight: float = DPIR_PRIOR_WEIGHT
    cg_effort: float | None = None


DEFAULTS = {
    # Plug-and-play from the fast classical estimate: the best PSNR per network evaluation measured here. σ₀ = 0.3
    # scored 28.256 / 0.1188 against 28.165 / 0.1246 (PSNR / LPIPS) on BSD68 images 0-7, but better on only 5 of
    # 8, and 29.92 against 30.11 dB on Set12: not adopted
    "inpaint-random": Settings(method="pnp", steps=40, sigma_start=0.1, sigma_end=0.005, eta=0.0,
                               warm_start="baseline"),
    # Large holes: sharpen the biharmonic fill gently. σ₀ = 0.1 beat biharmonic on Set12 (+0.30 dB) and CBSD68
    # images 5-8 (+0.11 dB), where σ₀ = 0.5 lost 0.43 dB to it (0.2: +0.49 / −0.12)
    "inpaint-box": Settings(method="pnp", steps=20, sigma_start=0.1, sigma_end=0.005, eta=0.0, warm_start="baseline"),
    # 40 steps from 0.1 beat 20 from 0.05 by 0.2 dB (Gaussian) and 0.5 dB (Levin motion) on 3 Set12 images.
    # λ and η on Levin motion blur, BSD68 images 0-3 (PSNR / LPIPS): λ = 0.23 29.29 / 0.118 (DPIR's; below it
    # collapses: 0.15 lost 4.8 dB on images 0-2), 0.25 29.85 / 0.120, 0.3 30.49 / 0.144; λ = 0.3 with η = 0.3
    # 30.35 / 0.132, with η = 0.5 29.96 / 0.118; λ = 0.35, η = 0.6 30.20 / 0.125 (TV 29.10 / 0.163). Fresh noise
    # undoes the smoothing a larger λ brings. On kernels12 01, 02, 09, 12 (BSD68 images 4-5) λ = 0.3, η = 0.5 against
    # 0.23, 0: +0.77, −0.06, +0.99, +0.86 dB, LPIPS −0.005 to +0.008. A higher start trades PSNR for LPIPS, on
    # every one of BSD68 images 0-7: σ₀ 0.1 30.24 / 0.1108, 0.3 30.03 / 0.1003 (0.5 on images 0-3: −0.30 dB,
    # −0.014 LPIPS); σ₀ = 0.3 keeps most of the PSNR λ = 0.3 gained over DPIR's row and lowers LPIPS under it
    "deblur": Settings(method="pnp", steps=40, sigma_start=0.3, sigma_end=0.003, eta=0.5, warm_start="baseline",
                       prior_weight=0.3),
    # Blurs that erase most frequencies (Gaussian σ = 3): re-noise fully (posterior sampling) so that the prior
    # fills the lost band with texture. Gaussian σ = 3 on BSD68 images 0-3: η = 1 cut LPIPS 0.500 → 0.412 at
    # +0.07 dB. The 25 × 25 kernels12 on BSD68 images 4-5: η = 1 lowered LPIPS by 0.10-0.13 where a kernel
    # erases 0.57-0.82 of the frequencies, at −0.16 to +0.14 dB from 0.68 up (−0.88 dB at 0.57); where it erases
    # under 0.22 (small Gaussians, motion blur) it lost 3.6-7.3 dB. Hence the threshold LOWPASS = 0.6
    "deblur-lowpass": Settings(method="pnp", steps=40, sigma_start=0.1, sigma_end=0.003, eta=1.0,
                               warm_start="baseline"),
    "sr": Settings(method="pnp", steps=20, sigma_start=0.1, sigma_end=0.01, eta=0.0, warm_start="baseline"),
    # ct-test images 4-8, 2 threads: 20 / 30 / 40 steps 37.11 / 37.34 / 37.46 dB in 7.3 / 10.9 / 14.6 s (a machine
    # with native bf16). Where a network call costs 0.33 s (fp32, AVX2) the conjugate gradients of 40 unbudgeted
    # steps (about 80 iterations a step) took it to 26 s; on images 4-5 a budget of ⌈0.35 √κ⌉ kept 40 steps under
    # 20 s at −0.04 dB (39.72 → 39.68 dB, 26.0 → 17.4 s; 0.5 √κ: 39.71 dB, 20.2 s; 30 steps unbudgeted: 39.61 dB,
    # 18.9 s; preconditioned solves: 40 % fewer iterations, 25.6 s, their FFTs cost what they save)
    "ct-sparse": Settings(method="pnp", steps=40, sigma_start=0.1, sigma_end=0.005, eta=0.0, warm_start="baseline",
                          cg_effort=0.35),
    # Conjugate gradients dominate the time here (90 views, 8 ms an iteration on 2 threads: ~4000 iterations a
    # reconstruction under the operator's own rule, at most 300 a step). Budgeting them by the step's condition
    # number, ⌈c √κ⌉ iterations, took ct-test images 4-8 from 28.95 dB in 45 s to 28.35 dB in 18 s (σ₀ = 0.3,
    # c = 0.2: 1128 iterations; a flat cap of 80 took 18 s for 28.11 dB). At about that many iterations a higher
    # start wins (1 thread, PSNR dB / iterations): σ₀ 0.4, c 0.15 28.71 / 1079; 0.5, 0.13 29.11 / 1134;
    # 0.6, 0.11 29.12 / 1123; 0.7, 0.09 28.94 / 1053; 1.0, 0.06 28.73. With c = 0.2, σ₀ 0.4 scored 29.03 dB
    # but took 1436 iterations, 4 s more
    "ct-limited": Settings(method="pnp", steps=20, sigma_start=0.5, sigma_end=0.005, eta=0.0, warm_start="baseline",
                           cg_effort=0.13),
    "other": Settings(method="pnp", steps=30, sigma_start=0.5, sigma_end=0.01, eta=0.0, warm_start="dagger"),
}


def default_eta(method: str, settings: Settings, n_samples: int) -> float:
    """η for ``method`` under a row: the row's η for the row's method, and the ancestral methods' DDPM η = 1 for
    the others. When several samples are asked for, plug-and-play under a deterministic row (η = 0) re-noises fully
    (η = 1, DiffPIR with ζ = 1), so that the samples differ and their spread is the std map (measured: the mean of
    4 loses 0.3 dB to one point estimate on inpaint-random); a row that re-noises already keeps its η (on Levin
    motion blur, BSD68 images 0-1, from the "deblur" row's former σ₀ = 0.1, the mean of 4 samples scored 25.16 and
    26.51 dB with η = 1 against 26.45 and 30.57 with the "deblur" row's η = 0.5; its std map is then narrower: mean
    std 0.009 and 0.004 against an RMS error of 0.048 and 0.030, where η = 1 gave 0.022 and 0.019 against 0.055
    and 0.047)."""
    if method == settings.method:
        return 1.0 if method == "pnp" and n_samples > 1 and settings.eta == 0 else settings.eta
    return 1.0


def default_settings(operator) -> Settings:
    """The measured default settings for ``operator`` (see :func:`task_of`)."""
    return DEFAULTS[task_of(operator)]
