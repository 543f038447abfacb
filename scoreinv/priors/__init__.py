"""Trained priors: the registry of shipped ones, loading, model cards and export."""
