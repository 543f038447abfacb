"""The model: the denoiser contract, EDM preconditioning, the network, devices and precision."""
