"""Training a prior by denoising score matching: configuration, loop, checkpoints and patches."""
