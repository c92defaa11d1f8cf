"""Batch prediction: new reviews from a file or folder scored with the served model's code."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
