"""Runs that must fail: clearly, with the MLflow run marked failed and earlier outputs intact."""

from __future__ import annotations

import pytest
import torch

from tests.e2e.kedro_runs import FAST_TRAINING, kedro_run, runs_of

pytestmark = pytest.mark.slow


def test_evaluate_without_a_trained_model_says_how_to_train(project_copy) -> None:
    with pytest.raises(Exception, match=r"kedro run") as raised:
        kedro_run(project_copy, pipeline_names=["evaluate"])
    assert "model" in str(raised.value) or "vocabulary" in str(raised.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_explicit_cuda_without_cuda_fails_the_run_and_keeps_earlier_outputs(project_copy) -> None:
    data_only = ["ingestion", "tokenization", "features"]
    kedro_run(project_copy, pipeline_names=data_only)
    vocabulary = project_copy / "data" / "03_primary" / "vocabulary.json"
    written = vocabulary.read_bytes()

    with pytest.raises(RuntimeError, match="CUDA"):
        kedro_run(
            project_copy,
            pipeline_names=["training"],
            runtime_params={**FAST_TRAINING, "training.device": "cuda"},
        )

    assert vocabulary.read_bytes() == written
    first, failed = runs_of(project_copy)
    assert first.info.status == "FINISHED"
    assert failed.info.status == "FAILED"
    assert not (project_copy / "data" / "06_models" / "model_checkpoint.pt").exists()
