"""Training pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    check_training_completed,
    package_serving_model,
    plot_training_curves,
    train_sentiment_model,
    training_run_facts,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                train_sentiment_model,
                inputs=[
                    "train_ids",
                    "valid_ids",
                    "embedding_matrix",
                    "vocabulary",
                    "params:training",
                    "epoch_metrics_logger",
                ],
                outputs=["model_checkpoint", "training_history", "training_summary"],
                name="train_sentiment_model",
            ),
            Node(
                check_training_completed,
                inputs="training_summary",
                outputs=None,
                name="check_training_completed",
            ),
            Node(
                training_run_facts,
                inputs=["model_checkpoint", "vocabulary", "glove_coverage", "training_summary"],
                outputs="training_run_facts",
                name="log_training_run_facts",
            ),
            Node(
                plot_training_curves,
                inputs="training_history",
                outputs="training_curves_plot",
                name="plot_training_curves",
            ),
            Node(
                package_serving_model,
                inputs=["model_checkpoint", "vocabulary", "params:evaluate.threshold"],
                outputs="serving_model",
                name="package_serving_model",
            ),
        ]
    )
