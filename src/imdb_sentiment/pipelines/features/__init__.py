"""Features: vocabulary, GloVe embedding matrix and id-encoded reviews."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
