"""Interoperability with other toolkits (DeepInverse): operators, physics and denoisers both ways."""
