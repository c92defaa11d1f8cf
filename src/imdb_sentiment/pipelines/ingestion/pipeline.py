"""Ingestion pipeline: check the raw reviews, then carve a validation split from train."""

from kedro.pipeline import Node, Pipeline

from .nodes import split_report, split_train_valid, validate_reviews


def create_pipeline(**kwargs) -> Pipeline:
    """``imdb_raw`` → ``train_reviews``, ``valid_reviews``, ``test_reviews``, ``split_report``."""
    return Pipeline(
        [
            Node(
                validate_reviews,
                inputs=["imdb_raw", "params:ingestion.clean_splits"],
                outputs=["validated_train_reviews", "test_reviews", "train_cleaning"],
                name="validate_imdb_reviews",
            ),
            Node(
                split_train_valid,
                inputs=[
                    "validated_train_reviews",
                    "params:ingestion.valid_fraction",
                    "params:ingestion.seed",
                ],
                outputs=["train_reviews", "valid_reviews"],
                name="split_train_valid",
            ),
            Node(
                split_report,
                inputs=["train_cleaning", "train_reviews", "valid_reviews", "test_reviews"],
                outputs="split_report",
                name="report_splits",
            ),
        ]
    )
