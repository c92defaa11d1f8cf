"""Baselines pipeline: ``train_tokens`` + ``valid_tokens`` → one fitted model per baseline."""

from kedro.pipeline import Node, Pipeline

from imdb_sentiment.linear_baselines import BASELINES
from imdb_sentiment.pipelines import bound

from .nodes import baseline_run_facts, fit_baseline


def create_pipeline(**kwargs) -> Pipeline:
    """TF-IDF + LR and NBSVM on the train split, chosen on validation; test is not read."""
    return Pipeline(
        [
            *(
                Node(
                    bound(fit_baseline, baseline=name),
                    inputs=["train_tokens", "valid_tokens", "params:baselines"],
                    outputs=f"{name}_baseline",
                    name=f"fit_{name}_baseline",
                )
                for name in BASELINES
            ),
            Node(
                baseline_run_facts,
                inputs=[f"{name}_baseline" for name in BASELINES],
                outputs="baseline_run_facts",
                name="log_baseline_facts",
            ),
        ]
    )
