"""Solving y = A x + n: ``reconstruct``, the settings table and how an operator picks its row."""
