"""Samplers: short pure functions of (denoiser, x, sigmas, guidance, generator).

``sigmas`` is a decreasing sequence of noise levels ([0, 1] units); each sampler returns the (guided) denoised
estimate at the last level, so ``x`` is a sample of p(x₀ [| y]). Randomness comes only from ``generator``.
"""
from scoreinv.sampling.ancestral import ancestral
from scoreinv.sampling.langevin import annealed_langevin, ncsnv2_step_size
from scoreinv.sampling.ode import probability_flow
from scoreinv.sampling.pc import predictor_corrector
from scoreinv.sampling.pnp import half_quadratic_splitting, plug_and_play
from scoreinv.sampling.split_gibbs import split_gibbs

__all__ = ["ancestral", "annealed_langevin", "half_quadratic_splitting", "ncsnv2_step_size", "plug_and_play",
           "predictor_corrector", "probability_flow", "split_gibbs"]
