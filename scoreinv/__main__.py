"""``python -m scoreinv …``: the command line, also as a module for ``torchrun -m scoreinv train …``."""
from scoreinv.cli import main

main()
