"""The benchmarks: the baseline recipe's reference, the device check on the CPU, the features
copy. Slow lane: each trains a full-size model for a few batches."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import baseline_reference  # noqa: E402
import device_check  # noqa: E402
import make_device_features  # noqa: E402
import ray_overhead  # noqa: E402

from imdb_sentiment.datasets.vocabulary import VocabularyDataset  # noqa: E402
from imdb_sentiment.embeddings import embedding_matrix  # noqa: E402
from imdb_sentiment.glove import load_package_vectors  # noqa: E402
from imdb_sentiment.models import build_model  # noqa: E402
from imdb_sentiment.text import TokenizerConfig, tokenize  # noqa: E402
from imdb_sentiment.vocabulary import (  # noqa: E402
    Vocabulary,
    encode_reviews,
    token_counts,
    token_lists,
)

pytestmark = pytest.mark.slow

SAMPLE = ROOT / "data" / "01_raw" / "imdb_sample"
MAX_CHARS = 400  # reviews cut short so that CPU steps take milliseconds


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One thread: two OpenMP threads on a busy two-core machine stall for seconds per step."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _tokens(frame: pd.DataFrame) -> pd.DataFrame:
    texts = [text[:MAX_CHARS] for text in frame["text"]]
    return pd.DataFrame(
        {
            "id": frame["id"].to_numpy(dtype="int64"),
            "label": frame["label"].to_numpy(dtype="int64"),
            "tokens": tokenize(texts, TokenizerConfig(lowercase=False)),
        }
    )


@pytest.fixture(scope="module")
def model_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small real features (bundled sample text, spaCy, GloVe 50d) in the project's layout:
    ``data/05_model_input`` files and ``vocabulary.json``."""
    train = pd.read_parquet(SAMPLE / "train.parquet").sample(n=240, random_state=0)
    test = pd.read_parquet(SAMPLE / "test.parquet").sample(n=90, random_state=0)
    splits = {"train": train.iloc[:200], "valid": train.iloc[200:], "test": test}
    tokens = {name: _tokens(frame) for name, frame in splits.items()}
    train_lists = token_lists(tokens["train"], "train_tokens")
    vocabulary = Vocabulary.build(train_lists, max_size=2000)
    matrix, _ = embedding_matrix(vocabulary, load_package_vectors(), token_counts(train_lists))
    folder = tmp_path_factory.mktemp("model_input")
    np.save(folder / "embedding_matrix.npy", matrix)
    VocabularyDataset(filepath=str(folder / "vocabulary.json")).save(vocabulary)
    for name, table in tokens.items():
        encode_reviews(table, vocabulary, name).save_npz(folder / f"{name}_ids.npz")
    return folder


@pytest.fixture(scope="module")
def features(model_input: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The device check's folder, as make_device_features.py writes it from conf/full."""
    folder = tmp_path_factory.mktemp("features")
    make_device_features.make_features(model_input, folder, model_input / "vocabulary.json")
    return folder


def test_bucket_iterator_yields_every_review_once_in_length_sorted_pools() -> None:
    lengths = np.random.default_rng(1).integers(1, 500, size=7_345)
    batches = baseline_reference.bucket_iterator_batches(
        lengths, 30, train=True, shuffler=random.Random(0)
    )
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(1 <= len(b) <= 30 for b in batches)
    # Each pool of 100 batches (3,000 reviews) is sorted by length, then its batches shuffled:
    # so batches never overlap in length within a pool, and the order is not the sorted one.
    first_pool = batches[:100]
    spans = sorted((min(lengths[b]), max(lengths[b])) for b in first_pool)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert [min(lengths[b]) for b in first_pool] != sorted(min(lengths[b]) for b in first_pool)
    # Another epoch with the same shuffler differs; evaluation is fully sorted.
    again = baseline_reference.bucket_iterator_batches(
        lengths, 30, train=True, shuffler=random.Random(0)
    )
    assert again == batches
    evaluation = baseline_reference.bucket_iterator_batches(lengths, 30, train=False)
    ordered = [i for batch in evaluation for i in batch]
    assert sorted(ordered) == list(range(len(lengths)))
    assert list(lengths[ordered]) == sorted(lengths)


def test_baseline_model_matches_ours_in_size_and_output_shape(features: Path) -> None:
    data = device_check.load_features(features)
    matrix = data["embedding"]
    ours = build_model(data["model_config"], matrix)
    theirs = baseline_reference.build_baseline_model(matrix, torch.device("cpu"))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(theirs) == count(ours)
    assert theirs.rnn.num_layers == 2 and theirs.rnn.bidirectional and theirs.rnn.hidden_size == 256
    assert not theirs.rnn.batch_first and theirs.embedding.padding_idx is None
    # The baseline's vocabulary layout: <unk> = 0, <pad> = 1 (ours: <pad> = 0, <unk> = 1).
    weights = theirs.embedding.weight.detach()
    assert torch.equal(weights[baseline_reference.BASELINE_PAD], torch.from_numpy(matrix[0]))
    assert torch.equal(weights[2:], torch.from_numpy(matrix[2:]))
    batcher = baseline_reference.BaselineBatcher.from_encoded(data["train"], matrix.shape[0])
    text, label = batcher([0, 5, 9], torch.device("cpu"))
    longest = int(data["train"].lengths[[0, 5, 9]].max())
    assert text.shape == (longest, 3) and label.shape == (3,)
    assert text[:, 0].tolist()[: data["train"].lengths[0]] == [
        {0: 1, 1: 0}.get(i, i) for i in data["train"].review(0).tolist()
    ]
    theirs.eval()
    assert theirs(text).shape == (3, 1)


def test_device_check_runs_on_cpu_and_writes_every_figure(features: Path, tmp_path: Path) -> None:
    out = tmp_path / "figures" / "device_check.json"
    result = device_check.main(
        [
            "--features", str(features), "--device", "cpu", "--max-batches", "2",
            "--epochs", "2", "--baseline-epochs", "1", "--batch-size", "8",
            "--eval-batch-size", "16", "--threads", "1", "--out", str(out),
        ]
    )  # fmt: skip
    saved = json.loads(out.read_text())
    assert saved["summary"] == json.loads(json.dumps(result["summary"]))
    ours, theirs = saved["ours"]["epochs"], saved["baseline"]["epochs"]
    assert [r["epoch"] for r in ours] == [1, 2] and [r["epoch"] for r in theirs] == [1]
    assert ours[0]["batches"] == 2 and ours[0]["reviews"] == 16
    assert theirs[0]["batches"] == 2 and theirs[0]["reviews"] == 60
    for record in ours + theirs:
        assert record["seconds"] > 0 and record["reviews_per_s"] > 0
        assert 0.0 <= record["test_accuracy"] <= 1.0
        assert record["test_eval_reviews"] == 32
    assert all(0.0 <= r["valid_accuracy"] <= 1.0 for r in ours)
    assert saved["parameters"]["ours"] == saved["parameters"]["baseline"]
    assert saved["model"] == "bilstm-2x256-last"  # conf/full's model, read from settings.json
    assert saved["learning_rate"] == 0.002  # conf/full's (base's) learning rate
    lengths = [
        np.diff(np.load(features / f"{s}_ids.npz")["offsets"]) for s in ("train", "valid", "test")
    ]
    assert saved["max_review_length"] == max(int(x.max()) for x in lengths)
    train_test_max = max(int(lengths[0].max()), int(lengths[2].max()))
    for name in ("ours", "baseline"):
        assert saved["longest_batch"][name]["ok"] is True
        assert saved["longest_batch"][name]["padded_length"] == train_test_max
    assert saved["summary"]["train_speedup"] > 0
    assert "targets" not in saved["summary"]  # cut-short CPU runs claim no targets


def test_device_check_stops_epochs_at_the_time_budget(features: Path, tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    result = device_check.main(
        [
            "--features", str(features), "--device", "cpu", "--max-batches", "1",
            "--epochs", "5", "--baseline-epochs", "1", "--batch-size", "4",
            "--eval-batch-size", "8", "--time-budget", "0", "--threads", "1",
            "--out", str(out),
        ]
    )  # fmt: skip
    # The first epoch of each recipe always runs, later ones not.
    assert len(result["ours"]["epochs"]) == 1 and len(result["baseline"]["epochs"]) == 1
    assert any("ours epoch 2" in item for item in result["skipped"])


def test_device_check_names_missing_feature_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train_ids.npz"):
        device_check.load_features(tmp_path)


def test_make_device_features_copies_compactly_and_checks_ids(
    model_input: Path, tmp_path: Path
) -> None:
    vocabulary = model_input / "vocabulary.json"
    sizes = make_device_features.make_features(model_input, tmp_path / "dev", vocabulary)
    assert set(sizes) == {*device_check.FEATURE_FILES, device_check.SETTINGS_FILE}
    settings = json.loads((tmp_path / "dev" / "settings.json").read_text())
    assert settings["env"] == "full" and settings["pad_index"] == 0
    assert settings["training"]["batch_size"] == 256  # conf/full
    assert settings["training"]["model"]["bilstm"]["hidden_dim"] == 256
    copied = np.load(tmp_path / "dev" / "train_ids.npz")
    original = np.load(model_input / "train_ids.npz")
    assert copied["ids"].dtype == np.uint16
    assert np.array_equal(copied["ids"], original["ids"])
    assert np.array_equal(copied["offsets"], original["offsets"])
    with pytest.raises(ValueError, match="MiB"):
        make_device_features.make_features(
            model_input, tmp_path / "small", vocabulary, max_mib=0.001
        )
    matrix = np.load(model_input / "embedding_matrix.npy")
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in device_check.FEATURE_FILES:
        (broken / name).write_bytes((model_input / name).read_bytes())
    np.save(broken / "embedding_matrix.npy", matrix[:3])
    with pytest.raises(ValueError, match="outside the embedding matrix"):
        make_device_features.make_features(broken, tmp_path / "out", vocabulary)


def test_device_check_full_epochs_include_the_package_cross_check(
    features: Path, tmp_path: Path
) -> None:
    result = device_check.main(
        [
            "--features", str(features), "--device", "cpu", "--epochs", "1",
            "--baseline-epochs", "1", "--batch-size", "32", "--longest-batch", "0",
            "--threads", "1", "--out", str(tmp_path / "full.json"),
        ]
    )  # fmt: skip
    assert result["ours"]["epochs"][0]["reviews"] == 200
    assert result["baseline"]["epochs"][0]["reviews"] == 200
    assert result["ours"]["epochs"][0]["test_eval_reviews"] == 90
    package = result["package_train_model"]
    assert package["stop_reason"] == "completed" and package["train_reviews_per_second"] > 0
    assert result["longest_batch"] == {}


def test_cpu_benchmark_times_both_recipes_with_the_configured_model(features: Path) -> None:
    import run  # noqa: PLC0415 - benchmarks/run.py, beside device_check

    data = device_check.load_features(features)
    train = run.train_throughput(data, batches=2, batch_size=16)
    for name in ("ours", "baseline"):
        assert train[name]["epoch_s_estimate"] > 0 and len(train[name]["timed_seconds"]) == 2
    assert train["ours"]["batch_size"] == 16 and train["baseline"]["batch_size"] == 30
    evaluation = run.eval_throughput(data, reviews=20, eval_batch_size=8)
    assert evaluation["reviews"] == 20 and evaluation["speedup"] > 0


def test_baselines_benchmark_times_both_baselines_on_real_tokens(tmp_path: Path) -> None:
    import baselines  # noqa: PLC0415 - a benchmark script, found through sys.path above

    from imdb_sentiment.parameters import BaselinesSettings  # noqa: PLC0415

    reviews = pd.read_parquet(SAMPLE / "train.parquet").sample(n=600, random_state=0)
    tokens = tokenize(reviews["text"].tolist(), TokenizerConfig())
    bounds = {"train": (0, 400), "valid": (400, 500), "test": (500, 600)}
    for split, (start, stop) in bounds.items():
        pd.DataFrame(
            {
                "id": np.arange(start, stop),
                "label": reviews["label"].to_numpy()[start:stop],
                "tokens": [np.array(t, dtype=object) for t in tokens[start:stop]],
            }
        ).to_parquet(tmp_path / f"{split}_tokens.parquet")
    settings = BaselinesSettings.from_dict(
        {"tfidf_lr": {"C": [4.0], "sublinear_tf": [True]}, "nbsvm": {"C": [0.1], "beta": [1.0]}}
    )
    results = baselines.run(tmp_path, settings)
    assert results["reviews"] == {"train": 400, "valid": 100, "test": 100}
    for name in ("tfidf_lr", "nbsvm"):
        figures = results["baselines"][name]
        assert figures["fit_seconds"] > 0 and figures["test_score_seconds"] > 0
        assert figures["test_accuracy"] > 0.6  # 400 real reviews: above chance


def test_ray_overhead_measures_a_run(model_input: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One measured run of benchmarks/ray_overhead.py (the single-process side: the Ray side is
    tests/e2e/test_ray_training.py's) on small real features."""
    monkeypatch.setattr(ray_overhead, "FEATURES", model_input)
    measured = ray_overhead._measure(
        {**ray_overhead.SETTINGS, "epochs": 2, "batch_size": 16, "model.bilstm.hidden_dim": 8}
    )
    assert len(measured["epoch_s"]) == 2 and measured["best_epoch"] in {1, 2}
    assert 0 < sum(measured["epoch_s"]) <= measured["wall_s"]
    assert 0.0 <= measured["test_accuracy"] <= 1.0
