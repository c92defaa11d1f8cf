"""Tokenization: review texts to spaCy token lists, per split."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
