"""train_model on a tiny learnable set: learning, determinism, early stopping, NaN, Ctrl-C."""

from __future__ import annotations

import os
import signal
import threading

import numpy as np
import pytest
import torch

from imdb_sentiment.batching import bucket_batches, pad_batch
from imdb_sentiment.dict_settings import SettingsError
from imdb_sentiment.inference import predict_logits, predict_probabilities, resolve_device
from imdb_sentiment.models import build_model, load_model
from imdb_sentiment.models.bilstm import BiLSTMConfig
from imdb_sentiment.models.cnn import CNNConfig
from imdb_sentiment.sequences import EncodedReviews
from imdb_sentiment.training import (
    TrainConfig,
    TrainingResult,
    adversarial_perturbation,
    learning_rate_scheduler,
    seed_everything,
    settings_from_params,
    train_model,
    train_one_epoch,
    weight_average,
)

VOCAB, DIM = 20, 8
POSITIVE, NEGATIVE, POISON = 2, 3, 19  # POISON never occurs in the generated reviews
TIMING_KEYS = {"seconds", "train_reviews_per_second"}


def synthetic(n: int, seed: int) -> EncodedReviews:
    """Label 1 reviews contain token 2, label 0 reviews token 3, among random noise 4..18."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n)
    reviews = []
    for label in labels:
        noise = rng.integers(4, POISON, size=rng.integers(2, 12)).tolist()
        noise.insert(int(rng.integers(0, len(noise) + 1)), POSITIVE if label else NEGATIVE)
        reviews.append(noise)
    return EncodedReviews.from_lists(reviews, labels)


def embedding(seed: int = 0) -> np.ndarray:
    matrix = np.random.default_rng(seed).normal(size=(VOCAB, DIM)).astype(np.float32)
    matrix[0] = 0
    return matrix


MODEL = BiLSTMConfig(
    vocab_size=VOCAB, embedding_dim=DIM, padding_idx=0, hidden_dim=8, num_layers=1, dropout=0.1,
    embedding_dropout=0.1, pooling="max_mean",
)  # fmt: skip


def config(**overrides) -> TrainConfig:
    settings = {"epochs": 6, "batch_size": 16, "learning_rate": 0.02, "device": "cpu"}
    return TrainConfig(**{**settings, "progress": False, **overrides})


@pytest.fixture(scope="module")
def data() -> tuple[EncodedReviews, EncodedReviews]:
    return synthetic(240, seed=1), synthetic(80, seed=2)


@pytest.fixture(scope="module")
def trained(data) -> TrainingResult:
    return train_model(*data, embedding(), MODEL, config(patience=10))


def test_training_learns_and_records_each_epoch(trained, data):
    history = trained.history
    assert trained.stop_reason == "completed"
    assert [r["epoch"] for r in history] == list(range(1, 7))
    assert set(history[0]) == {
        "epoch", "train_loss", "train_accuracy", "valid_loss", "valid_accuracy", "seconds",
        "train_reviews_per_second", "learning_rate",
    }  # fmt: skip
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    assert trained.best_valid_accuracy >= 0.95
    assert trained.best_valid_accuracy == max(r["valid_accuracy"] for r in history)
    assert history[trained.best_epoch - 1]["valid_accuracy"] == trained.best_valid_accuracy


def test_checkpoint_holds_the_best_epoch(trained, data):
    checkpoint = trained.checkpoint
    assert checkpoint["best_epoch"] == trained.best_epoch
    assert checkpoint["best_valid_accuracy"] == trained.best_valid_accuracy
    assert checkpoint["model_config"] == MODEL.to_dict()
    model = load_model(checkpoint, vocab_size=VOCAB)
    valid = data[1]
    probabilities = predict_probabilities(model, valid, device="cpu")
    accuracy = np.mean((probabilities >= 0.5) == (valid.labels == 1))
    assert accuracy == pytest.approx(trained.best_valid_accuracy)


def test_same_seed_gives_identical_history_and_weights(trained, data):
    again = train_model(*data, embedding(), MODEL, config(patience=10))

    def strip(history):
        return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in history]

    assert strip(again.history) == strip(trained.history)
    for name, tensor in trained.checkpoint["state_dict"].items():
        assert torch.equal(again.checkpoint["state_dict"][name], tensor), name
    other = train_model(*data, embedding(), MODEL, config(epochs=1, seed=7))
    assert strip(other.history)[0] != strip(trained.history)[0]


def test_early_stopping_after_patience_epochs_without_improvement(data):
    # A vanishing learning rate cannot change the validation accuracy.
    result = train_model(
        *data, embedding(), MODEL, config(learning_rate=1e-12, patience=2, progress=True)
    )
    assert result.stop_reason == "early_stopping"
    assert len(result.history) == 3
    assert result.best_epoch == 1
    assert result.checkpoint["best_epoch"] == 1


def test_non_finite_loss_in_the_first_epoch_returns_no_checkpoint(data):
    matrix = embedding()
    matrix[POSITIVE] = np.inf
    result = train_model(*data, matrix, MODEL, config())
    assert result.stop_reason == "nan_loss"
    assert result.history == []
    assert result.checkpoint is None and result.best_epoch is None


def test_non_finite_loss_later_keeps_the_best_model_so_far(data):
    train = synthetic(240, seed=1)  # own copy: the callback edits it
    matrix = embedding()
    matrix[POISON] = np.inf  # unused until the callback puts it into the training reviews

    def poison(record):
        if record["epoch"] == 2:
            train.ids[::3] = POISON

    result = train_model(train, data[1], matrix, MODEL, config(), on_epoch_end=poison)
    assert result.stop_reason == "nan_loss"
    assert len(result.history) == 2
    assert result.best_epoch in (1, 2)
    state = result.checkpoint["state_dict"]
    assert all(torch.isfinite(v.float()).all() for k, v in state.items() if "embedding" not in k)


def test_interrupt_from_the_callback_keeps_the_best_model(data):
    def stop(record):
        if record["epoch"] == 2:
            raise KeyboardInterrupt

    result = train_model(*data, embedding(), MODEL, config(), on_epoch_end=stop)
    assert result.stop_reason == "interrupted"
    assert len(result.history) == 2
    assert result.checkpoint is not None
    assert result.checkpoint["best_epoch"] == result.best_epoch


def test_ctrl_c_during_an_epoch_is_caught(data):
    # A real SIGINT, sent while epoch 2 runs: Python raises KeyboardInterrupt wherever it is.
    def interrupt_soon(record):
        if record["epoch"] == 1:
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()

    big = synthetic(1000, seed=3)
    # as in a terminal, even where pytest runs as a background job (which ignores SIGINT)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = train_model(big, data[1], embedding(), MODEL, config(epochs=50), interrupt_soon)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert result.stop_reason == "interrupted"
    assert 1 <= len(result.history) < 50
    assert result.checkpoint is not None


def test_devices():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("CPU") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("gpu-please")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_explicit_cuda_without_cuda_is_an_error_not_a_fallback(data):
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        resolve_device("cuda:1")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        train_model(*data, embedding(), MODEL, config(device="cuda"))


def test_bad_inputs_are_clear_errors(data):
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=0)
    with pytest.raises(SettingsError, match="lr: unknown setting"):
        TrainConfig.from_dict({"epochs": 2, "lr": 0.1})
    empty = EncodedReviews.from_lists([], [])
    with pytest.raises(ValueError, match="valid split has no reviews"):
        train_model(data[0], empty, embedding(), MODEL, config())
    bad = EncodedReviews.from_lists([[4], [5]], [1, 2], review_ids=[10, 11])
    with pytest.raises(ValueError, match="review 11 .*label 2"):
        train_model(bad, data[1], embedding(), MODEL, config())


def test_training_parameters_become_loop_settings_and_a_model_config():
    loop, model = settings_from_params(
        {
            "epochs": 2,
            "learning_rate": 0.01,
            "model": {"type": "cnn", "embedding_dropout": 0.1, "cnn": {"num_filters": 7}},
        }
    )
    assert (loop.epochs, loop.learning_rate) == (2, 0.01)
    assert model.describe() == "cnn-3.4.5x7"
    assert model.embedding_dropout == 0.1
    assert model.vocab_size is None  # set from the data by the training node


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"learning_rate": "abc"}, r"training.learning_rate: must be a number, got 'abc'"),
        ({"epochs": 2.5}, r"training.epochs: must be an integer, got 2.5"),
        ({"seed": "x"}, r"training.seed: must be an integer"),
        ({"epocs": 3}, r"training.epocs: unknown setting \(did you mean epochs\?"),
        ({"max_length": 0}, r"training.max_length: must be >= 1 or null"),
        ({"adversarial_epsilon": -0.1}, r"training.adversarial_epsilon: must be a finite number"),
        ({"adversarial_epsilon": float("nan")}, r"adversarial_epsilon: must be a finite number"),
        ({"adversarial_epsilon": float("inf")}, r"adversarial_epsilon: must be a finite number"),
        ({"adversarial_epsilon": "big"}, r"training.adversarial_epsilon: must be a number"),
        (
            {"lr_schedule": "linear"},
            r"training.lr_schedule: must be one of \['constant', 'cosine'\]",
        ),
        ({"weight_average_decay": 1.0}, r"training.weight_average_decay: must be in \(0, 1\)"),
        ({"weight_average_decay": 0}, r"training.weight_average_decay: must be in \(0, 1\)"),
        ({"torch_threads": 0}, r"training.torch_threads: must be a positive integer or null"),
        ({"torch_threads": True}, r"training.torch_threads: must be"),
        ({"torch_threads": "two"}, r"training.torch_threads: must be"),
        ({"model": {"type": "rnn"}}, r"training.model.type: unknown model type 'rnn'"),
        ({"model": {"type": "cnn", "cnn": {"filter_sizes": [3, 0]}}}, r"model.cnn.filter_sizes"),
        ({"model": {"type": "cnn", "bilstm": {"hiden_dim": 3}}}, r"model.bilstm.hiden_dim"),
        ({"model": {"type": "cnn", "cnn": {"embedding_dropout": 0.1}}}, r"is shared"),
    ],
)
def test_bad_training_parameters_name_their_dotted_key(params, message):
    with pytest.raises(SettingsError, match=message):
        settings_from_params({"model": {"type": "bilstm"}, **params})


# Adversarial training (training.adversarial_epsilon)


def one_epoch(data, model_config, **overrides) -> tuple[torch.nn.Module, list[np.ndarray]]:
    """A fresh model (seeded) after one train_one_epoch; the batches it saw."""
    settings = config(**overrides)
    seed_everything(settings.seed)
    model = build_model(model_config, embedding())
    optimizer = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=settings.learning_rate
    )
    batches = bucket_batches(data[0].lengths, settings.batch_size, np.random.default_rng(0))
    totals = train_one_epoch(
        model, optimizer, torch.nn.BCEWithLogitsLoss(), data[0], batches,
        device=torch.device("cpu"), config=settings,
    )  # fmt: skip
    assert totals.finite
    return model, batches


def reference_epoch(data, model_config, batches, settings: TrainConfig) -> torch.nn.Module:
    """The training step as it was before adversarial training existed, written out."""
    seed_everything(settings.seed)
    model = build_model(model_config, embedding())
    optimizer = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=settings.learning_rate
    )
    model.train()
    for indices in batches:
        ids, lengths, labels = pad_batch(data[0], indices, settings.max_length, pad_index=0)
        loss = torch.nn.BCEWithLogitsLoss()(model(ids, lengths), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
    return model


def test_adversarial_epsilon_0_is_the_plain_training_step_exactly(data):
    model, batches = one_epoch(data, MODEL, adversarial_epsilon=0.0)
    reference = reference_epoch(data, MODEL, batches, config())
    for name, tensor in reference.state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor), name
    assert model.embedded is None and not model.keep_embedded  # nothing kept between steps
    adversarial, _ = one_epoch(data, MODEL, adversarial_epsilon=0.05)
    assert adversarial.embedded is None and adversarial.embedding_perturbation is None


def test_adversarial_epsilon_0_trains_as_the_default(trained, data):
    again = train_model(*data, embedding(), MODEL, config(patience=10, adversarial_epsilon=0.0))
    for name, tensor in trained.checkpoint["state_dict"].items():
        assert torch.equal(again.checkpoint["state_dict"][name], tensor), name
    assert again.checkpoint["train_config"]["adversarial_epsilon"] == 0.0


@pytest.mark.parametrize("model_config", [MODEL, CNNConfig(vocab_size=VOCAB, embedding_dim=DIM,
    padding_idx=0, filter_sizes=(2, 3), num_filters=4)], ids=["bilstm", "cnn"])  # fmt: skip
def test_adversarial_training_changes_the_update(data, model_config):
    plain, _ = one_epoch(data, model_config, adversarial_epsilon=0.0)
    adversarial, _ = one_epoch(data, model_config, adversarial_epsilon=0.05)
    changed = [
        name
        for name, tensor in plain.state_dict().items()
        if not torch.equal(adversarial.state_dict()[name], tensor)
    ]
    assert "embedding.weight" in changed and len(changed) >= 3


def test_adversarial_training_with_frozen_embeddings(data):
    frozen = BiLSTMConfig(**{**MODEL.to_dict(), "freeze_embeddings": True})
    plain, _ = one_epoch(data, frozen, adversarial_epsilon=0.0)
    adversarial, _ = one_epoch(data, frozen, adversarial_epsilon=0.05)
    assert torch.equal(adversarial.embedding.weight, torch.as_tensor(embedding()))
    assert not torch.equal(adversarial.output.weight, plain.output.weight)


def test_adversarial_model_still_learns(data):
    result = train_model(*data, embedding(), MODEL, config(patience=10, adversarial_epsilon=0.05))
    assert result.best_valid_accuracy >= 0.95
    assert result.checkpoint["train_config"]["adversarial_epsilon"] == 0.05


def test_the_perturbation_has_the_requested_norm_along_the_gradient():
    generator = torch.Generator().manual_seed(0)
    embedded = torch.randn(3, 5, 4, generator=generator)
    embedded[1, 3:] = 0.0  # padding rows are zero
    gradient = (
        torch.randn(3, 5, 4, generator=generator) * torch.tensor([1e-3, 1.0, 50.0])[:, None, None]
    )
    delta = adversarial_perturbation(embedded, gradient, 0.02)
    for review in range(3):
        norm = delta[review].norm()
        assert norm == pytest.approx(0.02 * float(embedded[review].norm()), rel=1e-5)
        cosine = torch.nn.functional.cosine_similarity(
            delta[review].flatten(), gradient[review].flatten(), dim=0
        )
        assert float(cosine) == pytest.approx(1.0, abs=1e-6)
    assert not delta.requires_grad


def test_the_perturbation_raises_the_loss_and_reaches_the_model(data):
    quiet = BiLSTMConfig(**{**MODEL.to_dict(), "embedding_dropout": 0.0, "dropout": 0.0})
    model = build_model(quiet, embedding()).train()
    ids, lengths, labels = pad_batch(data[0], np.arange(32), None, pad_index=0)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    with model.keeping_embedded():
        clean = loss_fn(model(ids, lengths), labels)
    assert not model.keep_embedded
    clean.backward()
    delta = adversarial_perturbation(model.embedded, model.embedded.grad, 0.05)
    model.embedding_perturbation = delta
    with torch.no_grad():
        perturbed = loss_fn(model(ids, lengths), labels)
        model.embedding_perturbation = -delta
        against = loss_fn(model(ids, lengths), labels)
    assert float(perturbed) > clean.item() > float(against)


# Learning-rate schedule (training.lr_schedule)


def test_constant_schedule_keeps_the_rate_and_steps_nothing(data):
    result = train_model(*data, embedding(), MODEL, config(epochs=2, lr_schedule="constant"))
    assert [r["learning_rate"] for r in result.history] == [0.02, 0.02]


def test_cosine_schedule_anneals_to_zero_at_the_last_epoch(data):
    epochs = 4
    settings = config(epochs=epochs, lr_schedule="cosine", patience=10)
    result = train_model(*data, embedding(), MODEL, settings)
    rates = [r["learning_rate"] for r in result.history]
    # stepped once a batch: after epoch e of 4 the rate is 0.02 * (1 + cos(pi * e / 4)) / 2
    expected = [0.01 * (1 + np.cos(np.pi * e / epochs)) for e in range(1, epochs + 1)]
    assert rates == pytest.approx(expected, abs=1e-9)
    assert rates[-1] == pytest.approx(0.0, abs=1e-12)


def test_cosine_schedule_changes_the_training_and_still_learns(data):
    constant = train_model(*data, embedding(), MODEL, config(patience=10))
    cosine = train_model(*data, embedding(), MODEL, config(patience=10, lr_schedule="cosine"))
    assert cosine.history[0]["train_loss"] != constant.history[0]["train_loss"]
    assert cosine.best_valid_accuracy >= 0.9


def test_cosine_scheduler_over_the_given_steps():
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=1.0)
    scheduler = learning_rate_scheduler(optimizer, config(epochs=2, lr_schedule="cosine"), 5)
    rates = []
    for _ in range(10):
        optimizer.step()
        scheduler.step()
        rates.append(optimizer.param_groups[0]["lr"])
    assert rates[4] == pytest.approx(0.5)  # halfway: cos(pi / 2)
    assert rates[-1] == pytest.approx(0.0)
    assert learning_rate_scheduler(optimizer, config(lr_schedule="constant"), 5) is None


# Weight averaging (training.weight_average_decay)


def test_weight_average_is_the_exponential_moving_average_of_the_steps(data):
    """After each step the average moves 1 - decay of the way to the new weights."""
    settings = config(weight_average_decay=0.9)
    seed_everything(settings.seed)
    model = build_model(MODEL, embedding())
    averaged = weight_average(model, settings)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    batches = bucket_batches(data[0].lengths, 16, np.random.default_rng(0))[:3]
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    for steps, indices in enumerate(batches):
        train_one_epoch(
            model, optimizer, torch.nn.BCEWithLogitsLoss(), data[0], [indices],
            device=torch.device("cpu"), config=settings, averaged=averaged,
        )  # fmt: skip
        current = model.state_dict()
        for key, value in expected.items():
            # the first update copies the weights (AveragedModel), later ones blend them
            expected[key] = current[key].clone() if steps == 0 else 0.9 * value + 0.1 * current[key]
    for key, value in averaged.module.state_dict().items():
        torch.testing.assert_close(value, expected[key])
    assert weight_average(model, config()) is None


def test_training_with_weight_averaging_keeps_and_validates_the_average(data):
    plain = train_model(*data, embedding(), MODEL, config(patience=10))
    averaged = train_model(*data, embedding(), MODEL, config(patience=10, weight_average_decay=0.9))
    assert averaged.best_valid_accuracy >= 0.9  # the average still learns the task
    # the same steps, but other weights were validated and kept
    assert [r["train_loss"] for r in averaged.history] == [r["train_loss"] for r in plain.history]
    assert [r["valid_loss"] for r in averaged.history] != [r["valid_loss"] for r in plain.history]
    model = load_model(averaged.checkpoint)
    logits = predict_logits(model, data[1], torch.device("cpu"), bf16=False, max_length=None)
    kept_accuracy = float(np.mean((logits >= 0) == (data[1].labels == 1)))
    assert kept_accuracy == pytest.approx(averaged.best_valid_accuracy)
