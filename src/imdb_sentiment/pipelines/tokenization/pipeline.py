"""Tokenization pipeline: ``<split>_reviews`` → ``<split>_tokens`` for train, valid and test."""

from kedro.pipeline import Node, Pipeline

from .nodes import tokenize_test_reviews, tokenize_train_reviews, tokenize_valid_reviews

SPLIT_NODES = {
    "train": tokenize_train_reviews,
    "valid": tokenize_valid_reviews,
    "test": tokenize_test_reviews,
}


def create_pipeline(**kwargs) -> Pipeline:
    """One node per split, all with the ``tokenization`` parameters."""
    return Pipeline(
        [
            Node(
                func,
                inputs=[f"{split}_reviews", "params:tokenization"],
                outputs=f"{split}_tokens",
                name=f"tokenize_{split}_reviews",
            )
            for split, func in SPLIT_NODES.items()
        ]
    )
