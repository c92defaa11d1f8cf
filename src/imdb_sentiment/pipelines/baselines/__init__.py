"""Baselines: linear models on the same train/valid tokens, to put beside the neural model."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
