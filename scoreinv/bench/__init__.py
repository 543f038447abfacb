"""Benchmarks that print figures: denoising quality of a prior, inverse-problem tasks, speed."""
