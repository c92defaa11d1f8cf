"""The project's own Kedro datasets: checkpoints, arrays, run facts, the vocabulary.

(Encoded reviews, GloVe and the IMDB sources have their own test modules.)
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch
from kedro.io import DatasetError
from kedro.io.core import Version

from imdb_sentiment.datasets.mlflow_params import MlflowParamsDataset
from imdb_sentiment.datasets.numpy_array import NumpyArrayDataset
from imdb_sentiment.datasets.torch_checkpoint import TorchCheckpointDataset
from imdb_sentiment.datasets.vocabulary import VocabularyDataset
from imdb_sentiment.text import TokenizerConfig
from imdb_sentiment.vocabulary import Vocabulary


def leftovers(folder: Path) -> list[str]:
    """Temporary files an interrupted atomic write would leave."""
    return [path.name for path in folder.rglob("*.tmp")]


def test_checkpoints_are_versioned_and_load_onto_the_cpu(tmp_path: Path) -> None:
    checkpoint = {"format": "x", "state_dict": {"w": torch.arange(3.0)}, "best_epoch": 2}
    first = TorchCheckpointDataset(str(tmp_path / "ckpt.pt"), version=Version(None, "v1"))
    first.save(checkpoint)
    second = TorchCheckpointDataset(str(tmp_path / "ckpt.pt"), version=Version(None, "v2"))
    second.save({**checkpoint, "best_epoch": 5})
    assert sorted(p.name for p in (tmp_path / "ckpt.pt").iterdir()) == ["v1", "v2"]
    latest = TorchCheckpointDataset(str(tmp_path / "ckpt.pt"), version=Version(None, None))
    loaded = latest.load()
    assert loaded["best_epoch"] == 5
    assert torch.equal(loaded["state_dict"]["w"], torch.arange(3.0))
    earlier = TorchCheckpointDataset(str(tmp_path / "ckpt.pt"), Version("v1", None)).load()
    assert earlier["best_epoch"] == 2
    assert leftovers(tmp_path) == []


def test_a_missing_checkpoint_says_how_to_make_one(tmp_path: Path) -> None:
    dataset = TorchCheckpointDataset(
        str(tmp_path / "none.pt"), version=Version(None, None), missing_hint="kedro run --x"
    )
    assert not dataset.exists()
    with pytest.raises(DatasetError, match=r"No trained model at .*none.pt: run `kedro run --x`"):
        dataset.load()


def test_an_unreadable_checkpoint_names_its_file(tmp_path: Path) -> None:
    (tmp_path / "bad.pt" / "v1").mkdir(parents=True)
    (tmp_path / "bad.pt" / "v1" / "bad.pt").write_bytes(b"not a checkpoint")
    dataset = TorchCheckpointDataset(str(tmp_path / "bad.pt"), version=Version("v1", None))
    with pytest.raises(DatasetError, match=r"bad.pt: not a readable torch checkpoint"):
        dataset.load()


def test_arrays_round_trip_and_refuse_what_is_not_one(tmp_path: Path) -> None:
    dataset = NumpyArrayDataset(str(tmp_path / "deep" / "matrix.npy"))
    assert not dataset.exists()
    with pytest.raises(DatasetError, match="No array at"):
        dataset.load()
    matrix = np.arange(6, dtype=np.float32).reshape(2, 3)
    dataset.save(matrix)
    np.testing.assert_array_equal(dataset.load(), matrix)
    with pytest.raises(DatasetError, match="can only save a numpy array, got list"):
        dataset.save([1, 2])
    np.testing.assert_array_equal(dataset.load(), matrix)  # the earlier file is intact
    (tmp_path / "deep" / "matrix.npy").write_text("garbage")
    with pytest.raises(DatasetError, match=r"matrix.npy: not a numpy .npy file"):
        dataset.load()
    assert leftovers(tmp_path) == []


def test_run_facts_become_parameters_of_the_active_run(tmp_path: Path) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("datasets")  # not whichever experiment an earlier test set
    try:
        dataset = MlflowParamsDataset(prefix="facts")
        with mlflow.start_run() as run:
            dataset.save({"vocabulary_size": 10002, "device": "cpu"})
            assert dataset.load() == {"vocabulary_size": "10002", "device": "cpu"}
        params = mlflow.get_run(run.info.run_id).data.params
        assert params == {"facts.vocabulary_size": "10002", "facts.device": "cpu"}
    finally:
        mlflow.set_tracking_uri(None)


def test_run_facts_without_a_run_stay_in_memory() -> None:
    dataset = MlflowParamsDataset()
    with pytest.raises(DatasetError, match="nothing logged yet"):
        dataset.load()
    dataset.save({"a": 1})
    assert dataset.load() == {"a": 1}


def test_the_vocabulary_round_trips_as_the_json_it_always_was(tmp_path: Path) -> None:
    vocabulary = Vocabulary(
        itos=("<pad>", "<unk>", "the", "film"),
        max_size=10,
        min_freq=1,
        train_tokens=7,
        train_distinct_tokens=3,
        tokenization=TokenizerConfig("blank:en", lowercase=True),
    )
    path = tmp_path / "vocabulary.json"
    dataset = VocabularyDataset(str(path))
    assert not dataset.exists()
    with pytest.raises(DatasetError, match="run `kedro run --pipeline=features`"):
        dataset.load()
    dataset.save(vocabulary)
    assert dataset.load() == vocabulary
    # the layout of the files written before the Vocabulary type (kedro-datasets' JSONDataset)
    expected = {
        "itos": ["<pad>", "<unk>", "the", "film"],
        "pad_index": 0,
        "unk_index": 1,
        "max_size": 10,
        "min_freq": 1,
        "train_tokens": 7,
        "train_distinct_tokens": 3,
        "tokenization": {"spacy_model": "blank:en", "lowercase": True},
        "lowercase": True,
    }
    assert path.read_text() == json.dumps(expected, indent=2)
    with pytest.raises(DatasetError, match="can only save a Vocabulary, got dict"):
        dataset.save(expected)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a vocabulary file"),
        ('{"itos": ["<pad>", "<unk>"], "colour": 1}', r"unknown key\(s\) \['colour'\]"),
        ('{"itos": ["<unk>", "<pad>"]}', "pad_index 0 must be the id of <pad>"),
        ('{"itos": "abc"}', "'itos' must be a list of words"),
    ],
)
def test_a_broken_vocabulary_file_names_the_file_and_the_problem(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "vocabulary.json"
    path.write_text(content)
    with pytest.raises(DatasetError, match=message) as raised:
        VocabularyDataset(str(path)).load()
    assert str(path) in str(raised.value)
