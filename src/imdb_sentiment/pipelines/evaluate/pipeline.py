"""Evaluate pipeline: runs alone from the stored model checkpoint, vocabulary, test ids and
tokens, and fitted baselines; scores an extra labelled set when one is given."""

from kedro.pipeline import Node, Pipeline

from imdb_sentiment.linear_baselines import BASELINES
from imdb_sentiment.pipelines import bound
from imdb_sentiment.vocabulary import encode_reviews

from .nodes import (
    compare_with_baselines,
    compute_test_metrics,
    mlflow_test_metrics,
    plot_confusion_matrix,
    plot_reliability_diagram,
    plot_roc_curve,
    predict_reviews,
    report_model_comparison,
    score_with_baselines,
    tokenize_labelled_reviews,
)

BASELINE_MODELS = [f"{name}_baseline" for name in BASELINES]
# labelled sets scored by the model and the baselines: IMDB's test split, and an extra set
# (`--params extra_test_source=PATH`; without it the extra set is empty and left out)
SCORED_SETS = ("test", "extra_test")


def _scoring_nodes(labelled_set: str) -> list[Node]:
    """The model and the baselines on one labelled set, side by side."""
    return [
        Node(
            predict_reviews,
            inputs=["model_checkpoint", "vocabulary", f"{labelled_set}_ids", "params:evaluate"],
            outputs=f"{labelled_set}_predictions",
            name=f"predict_{labelled_set}_reviews",
        ),
        Node(
            score_with_baselines,
            inputs=[f"{labelled_set}_tokens", *BASELINE_MODELS],
            outputs=f"{labelled_set}_baseline_predictions",
            name=f"score_{labelled_set}_with_baselines",
        ),
        Node(
            compare_with_baselines,
            inputs=[
                f"{labelled_set}_predictions",
                f"{labelled_set}_baseline_predictions",
                "params:evaluate",
            ],
            outputs=f"{labelled_set}_comparison",
            name=f"compare_on_{labelled_set}",
        ),
    ]


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                tokenize_labelled_reviews,
                inputs=["extra_test_reviews", "vocabulary", "params:tokenization"],
                outputs="extra_test_tokens",
                name="tokenize_extra_test_reviews",
            ),
            Node(
                bound(encode_reviews, name="extra_test_tokens"),
                inputs=["extra_test_tokens", "vocabulary"],
                outputs="extra_test_ids",
                name="encode_extra_test",
            ),
            *(node for labelled_set in SCORED_SETS for node in _scoring_nodes(labelled_set)),
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
            Node(
                plot_reliability_diagram,
                inputs=["test_predictions", "model_checkpoint", "params:evaluate"],
                outputs="reliability_diagram_plot",
                name="plot_reliability_diagram",
            ),
            Node(
                report_model_comparison,
                inputs=["test_comparison", "extra_test_comparison", "model_checkpoint"],
                outputs=[
                    "model_comparison",
                    "model_comparison_table",
                    "model_comparison_plot",
                    "model_comparison_mlflow",
                ],
                name="report_model_comparison",
            ),
        ]
    )
