"""Evaluate pipeline: runs alone from the stored model checkpoint, vocabulary and test ids."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    compute_test_metrics,
    mlflow_test_metrics,
    plot_confusion_matrix,
    plot_roc_curve,
    predict_test_reviews,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                predict_test_reviews,
                inputs=["model_checkpoint", "vocabulary", "test_ids", "params:evaluate"],
                outputs="test_predictions",
                name="predict_test_reviews",
            ),
            Node(
                compute_test_metrics,
                inputs=["test_predictions", "params:evaluate"],
                outputs="test_metrics",
                name="compute_test_metrics",
            ),
            Node(
                mlflow_test_metrics,
                inputs="test_metrics",
                outputs="test_metrics_mlflow",
                name="log_test_metrics",
            ),
            Node(
                plot_confusion_matrix,
                inputs="test_metrics",
                outputs="confusion_matrix_plot",
                name="plot_confusion_matrix",
            ),
            Node(
                plot_roc_curve,
                inputs=["test_predictions", "test_metrics"],
                outputs="roc_curve_plot",
                name="plot_roc_curve",
            ),
        ]
    )
