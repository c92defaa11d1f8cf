"""Tokenization pipeline: ``{split}_reviews`` → ``{split}_tokens`` for train, valid and test."""

from kedro.pipeline import Node, Pipeline

from imdb_sentiment.pipelines import SPLITS, for_split

from .nodes import tokenize_reviews


def create_pipeline(**kwargs) -> Pipeline:
    """One node per split, all with the ``tokenization`` parameters."""
    return Pipeline(
        [
            Node(
                for_split(tokenize_reviews, split),
                inputs=[f"{split}_reviews", "params:tokenization"],
                outputs=f"{split}_tokens",
                name=f"tokenize_{split}_reviews",
            )
            for split in SPLITS
        ]
    )
