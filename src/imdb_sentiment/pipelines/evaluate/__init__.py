"""Evaluation: the stored model on the test split, alone or after training."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
