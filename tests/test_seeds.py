"""The several-seeds summary: mean ± sd, the baselines' constancy, atomic files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imdb_sentiment.seeds import seed_record, summarise_seeds, write_summary


def record(seed: int, accuracy: float, baseline_accuracy: float = 0.88, p: float = 0.01) -> dict:
    comparison = {
        "model": "bilstm-1x64-max_mean",
        "test": {
            "models": {
                "model": {"accuracy": accuracy},
                "tfidf_lr": {"accuracy": baseline_accuracy, "ece": 0.02},
            },
            "paired": {"tfidf_lr": {"mcnemar_p_value": p}},
        },
    }
    metrics = {"accuracy": accuracy, "ece": 0.02, "ece_uncalibrated": 0.07, "log_loss": 0.3}
    summary = {"best_epoch": 5, "best_valid_accuracy": 0.9, "valid_calibration": {"temperature": 2}}
    return seed_record(seed, f"run{seed}", metrics, comparison, summary)


def test_mean_and_sample_sd_over_seeds_and_the_baselines_beside() -> None:
    records = [record(42, 0.85), record(43, 0.87, p=0.2), record(44, 0.89)]
    summary = summarise_seeds(records, "seeds-x")
    assert summary["test_accuracy"]["mean"] == pytest.approx(0.87)
    assert summary["test_accuracy"]["sd"] == pytest.approx(0.02)  # sample sd (n - 1)
    assert summary["test_roc_auc"] == {"mean": None, "sd": None, "n": 0}  # not reported
    baseline = summary["baselines"]["tfidf_lr"]
    assert baseline["test_accuracy"] == 0.88 and baseline["same_in_every_run"]
    # p < 0.05 in seeds 42 (model worse) and 44 (model better); seed 43 not significant
    assert baseline["seeds_model_significantly_better"] == 1
    assert baseline["seeds_model_significantly_worse"] == 1


def test_a_baseline_that_moved_between_runs_is_flagged(tmp_path: Path) -> None:
    summary = summarise_seeds([record(1, 0.8), record(2, 0.8, baseline_accuracy=0.9)], "g")
    assert summary["baselines"]["tfidf_lr"]["test_accuracy"] is None
    assert not summary["baselines"]["tfidf_lr"]["same_in_every_run"]
    json_path, markdown_path = write_summary(summary, tmp_path / "out" / "seeds_summary")
    assert json.loads(json_path.read_text())["seed_group"] == "g"
    text = markdown_path.read_text()
    assert "80.00% ± 0.00" in text and "differs between runs" in text
    assert not list((tmp_path / "out").glob(".*tmp"))  # no temporary file left behind
