"""EncodedReviewsDataset and NumpyArrayDataset on real files: round trips, atomicity, errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from kedro.io import DatasetError

from imdb_sentiment.datasets.encoded_reviews import EncodedReviewsDataset
from imdb_sentiment.datasets.numpy_array import NumpyArrayDataset
from imdb_sentiment.sequences import EncodedReviews

ARRAYS = ("ids", "offsets", "labels", "review_ids")


def _encoded() -> EncodedReviews:
    return EncodedReviews.from_lists(
        [[2, 3, 1], [], [7]], labels=[1, 0, 1], review_ids=[40, 41, 99]
    )


def _assert_same(left: EncodedReviews, right: EncodedReviews) -> None:
    for field in ("ids", "offsets", "labels", "review_ids"):
        np.testing.assert_array_equal(getattr(left, field), getattr(right, field))
        assert getattr(left, field).dtype == getattr(right, field).dtype


@pytest.mark.parametrize("compressed", [True, False])
def test_round_trip(tmp_path: Path, compressed: bool) -> None:
    dataset = EncodedReviewsDataset(
        filepath=str(tmp_path / "ids" / "train_ids.npz"), compressed=compressed
    )
    assert not dataset.exists()
    dataset.save(_encoded())
    assert dataset.exists()
    _assert_same(dataset.load(), _encoded())
    assert [p.name for p in (tmp_path / "ids").iterdir()] == ["train_ids.npz"]  # no temp files


def test_compact_ids_keep_their_type(tmp_path: Path) -> None:
    """The device machine's copies hold uint16 ids (a vocabulary under 65,536 words)."""
    encoded = _encoded()
    compact = EncodedReviews(
        ids=encoded.ids.astype(np.uint16),
        offsets=encoded.offsets,
        labels=encoded.labels,
        review_ids=encoded.review_ids,
    )
    compact.save_npz(tmp_path / "train_ids.npz")
    _assert_same(EncodedReviews.load_npz(tmp_path / "train_ids.npz"), compact)


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "valid_ids.npz"
    with pytest.raises(DatasetError, match=f"No encoded reviews at {path}"):
        EncodedReviewsDataset(filepath=str(path)).load()


def test_other_files_are_refused_with_their_name(tmp_path: Path) -> None:
    junk = tmp_path / "junk.npz"
    junk.write_text("not a zip")
    with pytest.raises(DatasetError, match=f"{junk}: not an encoded-reviews file"):
        EncodedReviewsDataset(filepath=str(junk)).load()
    other = tmp_path / "other.npz"
    np.savez(other, ids=np.zeros(3, dtype=np.int32))
    with pytest.raises(DatasetError, match=r"other.npz: not an encoded-reviews file.*offsets"):
        EncodedReviewsDataset(filepath=str(other)).load()


def test_failed_save_keeps_the_previous_file(tmp_path: Path) -> None:
    dataset = EncodedReviewsDataset(filepath=str(tmp_path / "test_ids.npz"))
    dataset.save(_encoded())
    with pytest.raises(DatasetError, match="can only save EncodedReviews"):
        dataset.save({"ids": [1, 2]})
    _assert_same(dataset.load(), _encoded())
    assert "test_ids.npz" in str(dataset)


def _parts() -> list[EncodedReviews]:
    """``_encoded()`` in three consecutive parts, one of them empty."""
    return [
        EncodedReviews.from_lists([[2, 3, 1]], labels=[1], review_ids=[40]),
        EncodedReviews.from_lists([], labels=[], review_ids=[]),
        EncodedReviews.from_lists([[], [7]], labels=[0, 1], review_ids=[41, 99]),
    ]


@pytest.mark.parametrize("compressed", [True, False])
def test_parts_are_saved_as_one_whole(tmp_path: Path, compressed: bool) -> None:
    dataset = EncodedReviewsDataset(filepath=str(tmp_path / "ids.npz"), compressed=compressed)
    dataset.save(iter(_parts()))
    _assert_same(dataset.load(), _encoded())
    _assert_same(EncodedReviews.concatenate(_parts()), _encoded())
    # the same arrays as numpy's own writer gives for the whole
    writer = np.savez_compressed if compressed else np.savez
    writer(tmp_path / "numpy.npz", **{f: getattr(_encoded(), f) for f in ARRAYS})
    with np.load(tmp_path / "ids.npz") as ours, np.load(tmp_path / "numpy.npz") as theirs:
        assert sorted(ours.files) == sorted(theirs.files)
        for name in ARRAYS:
            np.testing.assert_array_equal(ours[name], theirs[name])
            assert ours[name].dtype == theirs[name].dtype
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.npz", "numpy.npz"]


def test_a_failing_part_keeps_the_previous_file(tmp_path: Path) -> None:
    dataset = EncodedReviewsDataset(filepath=str(tmp_path / "train_ids.npz"))
    dataset.save(_encoded())

    def failing():
        yield from _parts()[:2]
        raise ValueError("train_tokens: label 2 at row 3")

    with pytest.raises(DatasetError, match="label 2 at row 3"):
        dataset.save(failing())
    with pytest.raises(DatasetError, match="got a part of type list"):
        dataset.save([_parts()[0], [1, 2]])
    _assert_same(dataset.load(), _encoded())
    assert [p.name for p in tmp_path.iterdir()] == ["train_ids.npz"]


def test_numpy_array_dataset_round_trip_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "embedding_matrix.npy"
    dataset = NumpyArrayDataset(filepath=str(path))
    assert not dataset.exists()
    with pytest.raises(DatasetError, match=f"No array at {path}"):
        dataset.load()
    matrix = np.arange(12, dtype=np.float32).reshape(4, 3)
    dataset.save(matrix)
    loaded = dataset.load()
    np.testing.assert_array_equal(loaded, matrix)
    assert loaded.dtype == np.float32
    assert [p.name for p in tmp_path.iterdir()] == ["embedding_matrix.npy"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600
    with pytest.raises(DatasetError, match="can only save a numpy array"):
        dataset.save([[1.0]])
    np.testing.assert_array_equal(dataset.load(), matrix)
    path.write_text("garbage")
    with pytest.raises(DatasetError, match="not a numpy .npy file"):
        dataset.load()
