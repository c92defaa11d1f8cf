"""Several training seeds of one configuration, summarised as mean ± sd beside the baselines.

:func:`summarise_seeds` turns what each seed's run reported (its test metrics and its comparison
with the linear baselines) into one summary; :func:`write_summary` writes it as JSON and
markdown, each file whole or not at all. The runs themselves are started by ``kedro seeds``
(:mod:`imdb_sentiment.cli`). Standard library and numpy only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from imdb_sentiment.atomic import atomic_write
from imdb_sentiment.model_comparison import MODEL

# per seed, from test_metrics: the model's figures summarised over seeds
MODEL_FIGURES = ("accuracy", "ece", "ece_uncalibrated", "log_loss", "f1", "roc_auc")


def seed_record(
    seed: int,
    run_id: str | None,
    test_metrics: Mapping[str, Any],
    comparison: Mapping[str, Any],
    training_summary: Mapping[str, Any],
) -> dict[str, Any]:
    """What one seed's run gives the summary."""
    test = comparison["test"]
    return {
        "seed": int(seed),
        "mlflow_run_id": run_id,
        "model": comparison.get("model"),
        "best_epoch": training_summary.get("best_epoch"),
        "best_valid_accuracy": training_summary.get("best_valid_accuracy"),
        "temperature": training_summary.get("valid_calibration", {}).get("temperature"),
        **{f"test_{name}": test_metrics.get(name) for name in MODEL_FIGURES},
        "baselines": {
            name: {
                "test_accuracy": metrics["accuracy"],
                "test_ece": metrics["ece"],
                "mcnemar_p_value": test["paired"][name]["mcnemar_p_value"],
            }
            for name, metrics in test["models"].items()
            if name != MODEL
        },
    }


def _mean_sd(values: Sequence[float | None]) -> dict[str, float | int | None]:
    present = np.array([v for v in values if v is not None], dtype=np.float64)
    if not len(present):
        return {"mean": None, "sd": None, "n": 0}
    sd = float(present.std(ddof=1)) if len(present) > 1 else 0.0
    return {"mean": float(present.mean()), "sd": sd, "n": len(present)}


def summarise_seeds(records: Sequence[Mapping[str, Any]], group: str) -> dict[str, Any]:
    """Mean ± sample sd over seeds of the model's test figures; each baseline's test accuracy
    (deterministic: the same in every run, which is checked) and in how many seeds the model
    was significantly better or worse than it (McNemar, p < 0.05)."""
    summary: dict[str, Any] = {
        "seed_group": group,
        "seeds": [record["seed"] for record in records],
        "model": records[0]["model"] if records else None,
        **{
            f"test_{name}": _mean_sd([r[f"test_{name}"] for r in records]) for name in MODEL_FIGURES
        },
        "best_valid_accuracy": _mean_sd([r["best_valid_accuracy"] for r in records]),
        "baselines": {},
        "runs": list(records),
    }
    names = sorted({name for record in records for name in record["baselines"]})
    for name in names:
        accuracies = sorted({r["baselines"][name]["test_accuracy"] for r in records})
        better = sum(
            1
            for r in records
            if r["baselines"][name]["mcnemar_p_value"] < 0.05
            and r["test_accuracy"] > r["baselines"][name]["test_accuracy"]
        )
        worse = sum(
            1
            for r in records
            if r["baselines"][name]["mcnemar_p_value"] < 0.05
            and r["test_accuracy"] < r["baselines"][name]["test_accuracy"]
        )
        summary["baselines"][name] = {
            "test_accuracy": accuracies[0] if len(accuracies) == 1 else None,
            "test_accuracy_per_run": [r["baselines"][name]["test_accuracy"] for r in records],
            "same_in_every_run": len(accuracies) == 1,
            "seeds_model_significantly_better": better,
            "seeds_model_significantly_worse": worse,
        }
    return summary


def _pm(figure: Mapping[str, Any], percent: bool) -> str:
    if figure["mean"] is None:
        return "n/a"
    if percent:
        return f"{100 * figure['mean']:.2f}% ± {100 * figure['sd']:.2f}"
    return f"{figure['mean']:.3f} ± {figure['sd']:.3f}"


def summary_markdown(summary: Mapping[str, Any]) -> str:
    """The summary as a short markdown report."""
    seeds = ", ".join(str(seed) for seed in summary["seeds"])
    lines = [
        f"# {summary['model']}: {len(summary['seeds'])} training seeds ({seeds})",
        "",
        f"MLflow tag `seed_group` = `{summary['seed_group']}`; mean ± sample sd over seeds.",
        "",
        "| model | test accuracy | test ECE (calibrated) | test ECE (uncalibrated) |",
        "| --- | --- | --- | --- |",
        f"| {summary['model']} | {_pm(summary['test_accuracy'], True)} "
        f"| {_pm(summary['test_ece'], False)} | {_pm(summary['test_ece_uncalibrated'], False)} |",
    ]
    for name, baseline in summary["baselines"].items():
        accuracy = baseline["test_accuracy"]
        shown = "differs between runs" if accuracy is None else f"{100 * accuracy:.2f}%"
        lines.append(f"| {name} (linear baseline, deterministic) | {shown} | | |")
    lines += ["", "McNemar's exact test, model against each baseline, per seed (p < 0.05):", ""]
    for name, baseline in summary["baselines"].items():
        lines.append(
            f"- {name}: model better in {baseline['seeds_model_significantly_better']}, worse in "
            f"{baseline['seeds_model_significantly_worse']} of {len(summary['seeds'])} seeds"
        )
    lines += ["", "| seed | MLflow run | best epoch | valid accuracy | test accuracy | ECE |"]
    lines.append("| --- | --- | --- | --- | --- | --- |")
    for run in summary["runs"]:
        valid = run["best_valid_accuracy"]
        lines.append(
            f"| {run['seed']} | {run['mlflow_run_id']} | {run['best_epoch']} "
            f"| {'n/a' if valid is None else f'{100 * valid:.2f}%'} "
            f"| {100 * run['test_accuracy']:.2f}% | {run['test_ece']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def write_summary(summary: Mapping[str, Any], stem: Path) -> list[Path]:
    """``<stem>.json`` and ``<stem>.md``, each written whole or not at all."""
    paths = [stem.with_suffix(".json"), stem.with_suffix(".md")]
    with atomic_write(paths[0]) as handle:
        handle.write((json.dumps(summary, indent=2) + "\n").encode("utf-8"))
    with atomic_write(paths[1]) as handle:
        handle.write(summary_markdown(summary).encode("utf-8"))
    return paths
