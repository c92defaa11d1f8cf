"""scripts/screen_training.py: settings screened on a trained project's stored features."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "screen_training.py"
TINY = {"model": {"bilstm": {"hidden_dim": 8}}, "max_length": 40, "batch_size": 64}

pytestmark = pytest.mark.slow


def screen(project: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable, str(SCRIPT), *arguments,
            "--features", str(project / "data" / "05_model_input"),
            "--vocabulary", str(project / "data" / "03_primary" / "vocabulary.json"),
        ],
        capture_output=True, text=True, timeout=600, check=False, cwd=project,
    )  # fmt: skip


def test_each_setting_and_seed_gets_a_validation_record(trained_project: Path):
    before = sorted(p for p in (trained_project / "data").rglob("*") if p.is_file())
    plain = json.dumps(TINY)
    adversarial = json.dumps({**TINY, "adversarial_epsilon": 0.5})
    done = screen(trained_project, plain, adversarial, "--seeds", "1,2", "--epochs", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [(r["overrides"].get("adversarial_epsilon"), r["seed"]) for r in records] == [
        (None, 1), (None, 2), (0.5, 1), (0.5, 2),
    ]  # fmt: skip
    for record in records:
        assert record["epochs_run"] == 2
        assert round(record["valid_accuracy"], 4) == max(record["valid_accuracy_by_epoch"])
        assert 0.0 <= record["test_accuracy"] <= 1.0
    # each setting trained as its overrides say: the adversarial runs are other runs
    outcome = [(r["valid_accuracy_by_epoch"], r["test_accuracy"]) for r in records]
    assert outcome[0] != outcome[2] and outcome[1] != outcome[3]
    # nothing in the project's data folder was written
    assert sorted(p for p in (trained_project / "data").rglob("*") if p.is_file()) == before


def test_no_test_leaves_the_test_split_unread(trained_project: Path, tmp_path: Path):
    features = tmp_path / "features"
    features.mkdir()
    for name in ("train_ids.npz", "valid_ids.npz", "embedding_matrix.npy"):
        (features / name).write_bytes(
            (trained_project / "data" / "05_model_input" / name).read_bytes()
        )
    done = subprocess.run(
        [
            sys.executable, str(SCRIPT), json.dumps(TINY), "--epochs", "1", "--no-test",
            "--features", str(features),
            "--vocabulary", str(trained_project / "data" / "03_primary" / "vocabulary.json"),
        ],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads(done.stdout.strip().splitlines()[-1])
    assert "test_accuracy" not in record and record["epochs_run"] == 1


def test_missing_features_and_bad_settings_are_clear_errors(tmp_path: Path):
    done = screen(tmp_path, json.dumps(TINY))
    assert done.returncode == 2
    assert "train_ids.npz" in done.stderr and "kedro run --pipelines=features" in done.stderr
    done = screen(tmp_path, "[1, 2]")
    assert done.returncode == 2 and "not a JSON object" in done.stderr
    done = screen(tmp_path, "{max_length: 3}")
    assert done.returncode == 2 and "is not JSON" in done.stderr
