"""Length-bucketed batches and padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from imdb_sentiment.batching import bucket_batches, pad_batch
from imdb_sentiment.models.bilstm import BiLSTMConfig, SentimentLSTM
from imdb_sentiment.sequences import EncodedReviews


def test_training_batches_cover_every_review_once_sorted_within_pools():
    lengths = np.random.default_rng(0).integers(0, 500, size=1003)
    batches = bucket_batches(lengths, batch_size=10, rng=np.random.default_rng(1), pool_batches=5)
    everything = np.concatenate(batches)
    assert len(everything) == 1003
    np.testing.assert_array_equal(np.sort(everything), np.arange(1003))
    assert all(len(b) <= 10 for b in batches)
    assert sum(len(b) < 10 for b in batches) <= 21  # only each pool's last batch is short
    assert all(np.all(np.diff(lengths[b]) >= 0) for b in batches)
    # Pools are sorted, so a batch spans a narrow range of lengths compared with random ones.
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 100


def test_training_batches_are_deterministic_given_the_seed_and_vary_between_epochs():
    lengths = np.random.default_rng(0).integers(1, 50, size=300)
    first = bucket_batches(lengths, 16, np.random.default_rng(7))
    second = bucket_batches(lengths, 16, np.random.default_rng(7))
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    rng = np.random.default_rng(7)
    epoch_one, epoch_two = bucket_batches(lengths, 16, rng), bucket_batches(lengths, 16, rng)
    assert not all(np.array_equal(a, b) for a, b in zip(epoch_one, epoch_two, strict=True))


def test_evaluation_batches_are_sorted_by_length_without_rng():
    lengths = np.array([5, 1, 3, 3, 9, 0, 2])
    batches = bucket_batches(lengths, 3)
    assert [b.tolist() for b in batches] == [[5, 1, 6], [2, 3, 0], [4]]


def test_bucket_batches_rejects_bad_sizes():
    with pytest.raises(ValueError, match="batch_size"):
        bucket_batches(np.ones(3), 0)
    with pytest.raises(ValueError, match="pool_batches"):
        bucket_batches(np.ones(3), 2, pool_batches=0)


def test_pad_batch_pads_truncates_and_keeps_labels():
    encoded = EncodedReviews.from_lists([[5, 6, 7], [8], [9, 10, 11, 12, 13]], [1, 0, 1])
    ids, lengths, labels = pad_batch(encoded, np.array([2, 1, 0]), pad_index=0)
    assert ids.dtype == torch.int64 and lengths.dtype == torch.int64
    assert labels.dtype == torch.float32
    assert ids.tolist() == [[9, 10, 11, 12, 13], [8, 0, 0, 0, 0], [5, 6, 7, 0, 0]]
    assert lengths.tolist() == [5, 1, 3]
    assert labels.tolist() == [1.0, 0.0, 1.0]

    ids, lengths, _ = pad_batch(encoded, np.array([2, 1]), max_length=2, pad_index=3)
    assert ids.tolist() == [[9, 10], [8, 3]]  # the first max_length tokens are kept
    assert lengths.tolist() == [2, 1]


def test_empty_reviews_become_one_pad_token_and_run_through_the_model():
    encoded = EncodedReviews.from_lists([[], [4, 5], []], [0, 1, 1])
    ids, lengths, _ = pad_batch(encoded, np.array([0, 1, 2]), pad_index=0)
    assert ids.tolist() == [[0, 0], [4, 5], [0, 0]]
    assert lengths.tolist() == [1, 2, 1]
    only_empty, only_empty_lengths, _ = pad_batch(encoded, np.array([0, 2]), pad_index=0)
    assert only_empty.tolist() == [[0], [0]]
    model = SentimentLSTM(
        BiLSTMConfig(vocab_size=6, embedding_dim=3, padding_idx=0, hidden_dim=4)
    ).eval()
    for packed in (True, False):
        assert torch.isfinite(model(ids, lengths, packed=packed)).all()
        assert torch.isfinite(model(only_empty, only_empty_lengths, packed=packed)).all()


def test_pad_batch_rejects_an_empty_batch():
    encoded = EncodedReviews.from_lists([[1]], [0])
    with pytest.raises(ValueError, match="non-empty"):
        pad_batch(encoded, np.array([], dtype=np.int64), pad_index=0)
