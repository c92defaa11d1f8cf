"""Ingestion: raw IMDB reviews to checked train / valid / test tables."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
