"""Training: the BiLSTM on the train split, selected on the validation split."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
