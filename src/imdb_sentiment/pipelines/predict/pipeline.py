"""Predict pipeline: `kedro run --pipelines=predict --params predict_source=PATH`."""

from kedro.pipeline import Node, Pipeline

from .nodes import predict_reviews


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                predict_reviews,
                inputs=[
                    "reviews_to_score",
                    "scoring_model",
                    "params:predict",
                    "params:evaluate.threshold",
                ],
                outputs=["predictions", "prediction_rejects", "prediction_summary"],
                name="predict_reviews",
            ),
        ]
    )
