"""scoreinv: imaging inverse problems solved with score-based generative priors.

Public API::

    from scoreinv import reconstruct, load_prior
    result = reconstruct(y, operator)          # .mean, .std, .samples, .nfe, .seconds, .settings
"""
from scoreinv.errors import InputError
from scoreinv.model.denoiser import Denoiser
from scoreinv.priors.registry import list_priors, load_prior
from scoreinv.solve.reconstruct import Reconstruction, reconstruct

__version__ = "0.1.0"
__all__ = ["Denoiser", "InputError", "Reconstruction", "list_priors", "load_prior", "reconstruct"]
