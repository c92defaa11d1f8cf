"""The architectures and their registry: shapes, batch independence, embeddings, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from imdb_sentiment.dict_settings import SettingsError
from imdb_sentiment.models import (
    CHECKPOINT_FORMAT,
    REGISTRY,
    build_model,
    config_from_params,
    load_model,
    model_checkpoint,
)
from imdb_sentiment.models.bilstm import BiLSTMConfig, SentimentLSTM
from imdb_sentiment.models.cnn import CNNConfig, SentimentCNN

VOCAB, DIM = 30, 6
POOLINGS = ["last", "max", "mean", "max_mean"]
DATA = {"vocab_size": VOCAB, "embedding_dim": DIM, "padding_idx": 0}


def small_config(**overrides) -> BiLSTMConfig:
    return BiLSTMConfig(**{**DATA, "hidden_dim": 5, "num_layers": 2, **overrides})


def small_cnn(**overrides) -> CNNConfig:
    return CNNConfig(**{**DATA, "filter_sizes": (2, 4), "num_filters": 3, **overrides})


def ragged_batch(lengths: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    width = max(lengths)
    ids = torch.randint(2, VOCAB, (len(lengths), width), generator=generator)
    lengths_t = torch.tensor(lengths)
    ids[torch.arange(width)[None, :] >= lengths_t[:, None]] = 0
    return ids, lengths_t


def test_config_validation_and_round_trip():
    config = small_config(pooling="max_mean", bidirectional=False)
    assert BiLSTMConfig.from_dict(config.to_dict()) == config
    assert config.features == 2 * 5
    assert config.describe() == "lstm-2x5-max_mean"
    with pytest.raises(ValueError, match="pooling"):
        small_config(pooling="attention")
    with pytest.raises(SettingsError, match="heads: unknown setting"):
        BiLSTMConfig.from_dict({**config.to_dict(), "heads": 4})
    with pytest.raises(ValueError, match="dropout"):
        small_config(dropout=1.5)
    cnn = small_cnn()
    assert CNNConfig.from_dict(cnn.to_dict()) == cnn
    assert cnn.to_dict()["filter_sizes"] == [2, 4]
    assert cnn.describe() == "cnn-2.4x3"
    with pytest.raises(ValueError, match="filter_sizes"):
        small_cnn(filter_sizes=())
    with pytest.raises(ValueError, match="lacks"):
        SentimentCNN(CNNConfig())  # the data fields are unset


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("bidirectional", [True, False])
def test_batched_logits_equal_one_review_at_a_time(pooling, bidirectional):
    torch.manual_seed(0)
    model = SentimentLSTM(small_config(pooling=pooling, bidirectional=bidirectional)).eval()
    lengths = [7, 1, 4, 9, 2]
    ids, lengths_t = ragged_batch(lengths)
    with torch.no_grad():
        packed = model(ids, lengths_t, packed=True)
        padded = model(ids, lengths_t, packed=False)
        alone = torch.stack(
            [
                model(ids[i : i + 1, :n], lengths_t[i : i + 1], packed=True)[0]
                for i, n in enumerate(lengths)
            ]
        )
        # Extra padding columns change nothing either.
        wider = model(torch.nn.functional.pad(ids, (0, 3)), lengths_t, packed=False)
    assert packed.shape == (5,)
    torch.testing.assert_close(packed, alone, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(padded, alone, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(wider, alone, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("pooling", ["last", "max_mean"])
def test_packed_and_padded_runs_give_the_same_gradients(pooling):
    torch.manual_seed(1)
    model = SentimentLSTM(small_config(pooling=pooling, dropout=0.0, embedding_dropout=0.0))
    ids, lengths = ragged_batch([6, 3, 1, 5])
    gradients = []
    for packed in (True, False):
        model.zero_grad()
        model(ids, lengths, packed=packed).sum().backward()
        gradients.append({k: p.grad.clone() for k, p in model.named_parameters()})
    for name, grad in gradients[0].items():
        torch.testing.assert_close(gradients[1][name], grad, atol=1e-6, rtol=1e-5, msg=name)


def test_pretrained_embedding_is_copied_with_padding_idx_and_optionally_frozen():
    matrix = np.random.default_rng(0).normal(size=(VOCAB, DIM)).astype(np.float32)
    matrix[0] = 0
    model = SentimentLSTM(small_config(), matrix)
    assert model.embedding.padding_idx == 0
    np.testing.assert_array_equal(model.embedding.weight.detach().numpy(), matrix)
    matrix[3] = 99  # a copy, not a view
    assert model.embedding.weight[3, 0] != 99
    assert model.embedding.weight.requires_grad
    ids, lengths = ragged_batch([4, 2])
    model(ids, lengths).sum().backward()
    assert torch.all(model.embedding.weight.grad[0] == 0)  # the pad row never learns

    frozen = SentimentLSTM(small_config(freeze_embeddings=True), torch.from_numpy(matrix))
    assert not frozen.embedding.weight.requires_grad
    frozen(ids, lengths).sum().backward()
    assert frozen.embedding.weight.grad is None


def test_embedding_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"shape \(30, 7\).*\[30, 6\]"):
        SentimentLSTM(small_config(), np.zeros((VOCAB, DIM + 1), dtype=np.float32))


def test_zero_length_is_rejected():
    model = SentimentLSTM(small_config())
    with pytest.raises(ValueError, match="at least one token"):
        model(torch.zeros(2, 3, dtype=torch.long), torch.tensor([3, 0]))


@pytest.mark.parametrize("config", [small_config(pooling="max"), small_cnn()])
def test_checkpoint_round_trip_gives_the_same_model(config):
    torch.manual_seed(2)
    model = build_model(config).eval()
    checkpoint = model_checkpoint(model, best_epoch=3)
    assert checkpoint["format"] == CHECKPOINT_FORMAT == "imdb-sentiment-checkpoint/2"
    assert checkpoint["model_type"] in REGISTRY
    assert checkpoint["best_epoch"] == 3
    assert all(t.device.type == "cpu" for t in checkpoint["state_dict"].values())
    loaded = load_model(checkpoint, vocab_size=VOCAB)
    assert not loaded.training
    assert type(loaded) is type(model)
    assert loaded.config == model.config
    ids, lengths = ragged_batch([5, 2, 3])
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids, lengths), model(ids, lengths))


def test_checkpoint_mismatches_are_clear_errors():
    checkpoint = model_checkpoint(SentimentLSTM(small_config()))
    with pytest.raises(ValueError, match="vocabulary of 30 words, the vocabulary has 31"):
        load_model(checkpoint, vocab_size=31)
    with pytest.raises(ValueError, match="format"):
        load_model({**checkpoint, "format": "something-else/9"})
    with pytest.raises(ValueError, match="lacks 'state_dict'"):
        load_model({k: v for k, v in checkpoint.items() if k != "state_dict"})
    wrong = {**checkpoint, "model_config": {**checkpoint["model_config"], "hidden_dim": 8}}
    with pytest.raises(ValueError, match="do not match its model config"):
        load_model(wrong)


def test_checkpoints_from_before_the_registry_load_as_bilstm():
    torch.manual_seed(3)
    model = SentimentLSTM(small_config()).eval()
    old = model_checkpoint(model)
    old["format"] = "imdb-sentiment-bilstm/1"
    del old["model_type"]
    loaded = load_model(old)
    assert isinstance(loaded, SentimentLSTM)
    ids, lengths = ragged_batch([4, 2])
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids, lengths), model(ids, lengths))


def test_the_registry_builds_each_type_from_parameters():
    params = {
        "type": "cnn",
        "embedding_dropout": 0.3,
        "freeze_embeddings": True,
        "bilstm": {"hidden_dim": 9},
        "cnn": {"filter_sizes": [3, 5], "num_filters": 4},
    }
    cnn = config_from_params(params)
    assert isinstance(cnn, CNNConfig)
    assert (cnn.filter_sizes, cnn.num_filters, cnn.embedding_dropout) == ((3, 5), 4, 0.3)
    assert cnn.freeze_embeddings and cnn.vocab_size is None
    lstm = config_from_params({**params, "type": "bilstm"})
    assert (type(lstm), lstm.hidden_dim, lstm.embedding_dropout) == (BiLSTMConfig, 9, 0.3)
    model = build_model(lstm.for_data(vocab_size=VOCAB, embedding_dim=DIM, padding_idx=0))
    assert isinstance(model, SentimentLSTM)


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"type": "gru"}, "training.model.type"),
        ({}, "training.model.type"),
        ({"type": "cnn", "embeding_dropout": 0.1}, "training.model.embeding_dropout"),
        ({"type": "cnn", "embedding_dropout": 1.0}, "training.model.embedding_dropout"),
        ({"type": "cnn", "cnn": {"num_filter": 3}}, "training.model.cnn.num_filter"),
        ({"type": "cnn", "bilstm": {"pooling": "attn"}}, "training.model.bilstm.pooling"),
        ({"type": "cnn", "cnn": {"vocab_size": 3}}, "training.model.cnn.vocab_size"),
        ({"type": "cnn", "cnn": {"num_filters": "many"}}, "training.model.cnn.num_filters"),
    ],
)
def test_bad_model_parameters_name_their_key(params, key):
    with pytest.raises(SettingsError) as raised:
        config_from_params(params)
    assert raised.value.key == key
    assert str(raised.value).startswith(f"{key}: ")


@pytest.mark.parametrize("embedding_dropout", [0.0, 0.5])
def test_cnn_scores_a_review_the_same_alone_or_in_any_batch(embedding_dropout):
    torch.manual_seed(4)
    model = SentimentCNN(small_cnn(embedding_dropout=embedding_dropout)).eval()
    lengths = [7, 1, 3, 9, 2]  # 1, 2 and 3 are shorter than the widest filter (4)
    ids, lengths_t = ragged_batch(lengths)
    ids[ids == 0] = 5  # padding positions hold a real word: they must still not count
    with torch.no_grad():
        batched = model(ids, lengths_t)
        alone = torch.stack(
            [model(ids[i : i + 1, :n], lengths_t[i : i + 1])[0] for i, n in enumerate(lengths)]
        )
    assert batched.shape == (5,)
    torch.testing.assert_close(batched, alone, atol=1e-6, rtol=1e-5)


def test_cnn_learns_through_every_filter_and_keeps_the_pad_row():
    torch.manual_seed(5)
    matrix = np.random.default_rng(1).normal(size=(VOCAB, DIM)).astype(np.float32)
    matrix[0] = 0
    model = SentimentCNN(small_cnn(), matrix)
    ids, lengths = ragged_batch([6, 1, 4])
    model(ids, lengths).sum().backward()
    assert all(conv.weight.grad.abs().sum() > 0 for conv in model.convs)
    assert torch.all(model.embedding.weight.grad[0] == 0)
    with pytest.raises(ValueError, match="at least one token"):
        model(ids, torch.tensor([6, 0, 4]))
