"""Where training runs: the settings, no Ray on the default path, and the replica loop on a real
two-process gloo group (the collective logic Ray's workers rely on, without Ray)."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from imdb_sentiment.dict_settings import SettingsError
from imdb_sentiment.distributed import DistributedSettings, run_training
from imdb_sentiment.inference import predict_logits
from imdb_sentiment.models import load_model
from imdb_sentiment.parameters import training_settings
from imdb_sentiment.training import Replica, train_model
from tests.test_boundaries import run_fresh
from tests.test_training import MODEL, config, embedding, synthetic

TRAINING = {"model": {"type": "bilstm"}}


def test_the_default_is_this_process():
    _, _, distributed = training_settings(TRAINING)
    assert distributed == DistributedSettings(backend="none")
    _, _, distributed = training_settings(
        {**TRAINING, "device": "cuda", "distributed": {"backend": "ray", "use_gpu": True}}
    )
    assert (distributed.backend, distributed.use_gpu, distributed.num_workers) == ("ray", True, 2)


@pytest.mark.parametrize("threads", [1, 2])
def test_training_here_runs_on_its_torch_threads_and_restores_them(threads):
    before = torch.get_num_threads()
    other = 3 if threads != 3 else 4
    torch.set_num_threads(other)
    seen: list[int] = []
    try:
        result = run_training(
            synthetic(64, seed=1), synthetic(32, seed=2), embedding(), MODEL,
            config(epochs=2, torch_threads=threads), DistributedSettings(backend="none"),
            lambda _record: seen.append(torch.get_num_threads()),
        )  # fmt: skip
        after = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    assert result.checkpoint is not None
    assert seen == [threads, threads]  # every epoch trained on the asked-for threads
    assert after == other  # and the caller's setting is back afterwards


def test_torch_threads_null_leaves_the_threads_as_they_are():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    seen: list[int] = []
    try:
        run_training(
            synthetic(64, seed=1), synthetic(32, seed=2), embedding(), MODEL,
            config(epochs=1, torch_threads=None), DistributedSettings(backend="none"),
            lambda _record: seen.append(torch.get_num_threads()),
        )  # fmt: skip
    finally:
        torch.set_num_threads(before)
    assert seen == [2]


@pytest.mark.parametrize(
    ("distributed", "device", "message"),
    [
        ({"backend": "spark"}, "auto", r"training.distributed.backend: must be one of"),
        ({"num_worker": 2}, "auto", r"training.distributed.num_worker: unknown setting \(did you"),
        ({"num_workers": 0}, "auto", r"training.distributed.num_workers: must be >= 1"),
        ({"cpus_per_worker": 1.5}, "auto", r"training.distributed.cpus_per_worker: must be an int"),
        ({"address": " "}, "auto", r"training.distributed.address: must be null or a non-empty"),
        ({"backend": "ray"}, "cuda", r"training.device: is 'cuda' but .*use_gpu is False"),
        ({"backend": "ray", "use_gpu": True}, "cpu", r"training.device: is 'cpu' but .*use_gpu"),
    ],
)
def test_bad_distributed_settings_name_their_dotted_key(distributed, device, message):
    with pytest.raises(SettingsError, match=message):
        training_settings({**TRAINING, "device": device, "distributed": distributed})


def test_replica_shares_are_disjoint_and_equal():
    batches = [np.array([i]) for i in range(7)]
    shares = [Replica(rank=r, world_size=2).share(batches) for r in (0, 1)]
    assert [len(s) for s in shares] == [3, 3]  # the 7th batch is left out this epoch
    assert not set(np.concatenate(shares[0])) & set(np.concatenate(shares[1]))
    assert Replica().share(batches) == batches


NO_RAY = """
import sys

class NoRay:
    def find_spec(self, name, path=None, target=None):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"{name} imported on the default path")

sys.meta_path.insert(0, NoRay())
import numpy as np
from imdb_sentiment.parameters import validate_parameters
from imdb_sentiment.pipelines.training.nodes import train_sentiment_model
from imdb_sentiment.vocabulary import Vocabulary

rng = np.random.default_rng(0)
labels = rng.integers(0, 2, 40)
from imdb_sentiment.sequences import EncodedReviews
reviews = EncodedReviews.from_lists([[2 + int(y), 4, 5] for y in labels], labels)
params = {"model": {"type": "bilstm", "bilstm": {"hidden_dim": 4}}, "epochs": 1,
          "batch_size": 8, "device": "cpu", "progress": False,
          "distributed": {"backend": "none", "num_workers": 4}}
checkpoint, history, summary = train_sentiment_model(
    reviews, reviews, rng.normal(size=(6, 3)).astype("float32"),
    Vocabulary(itos=("<pad>", "<unk>", "a", "b", "c", "d")), params,
)
assert checkpoint["distributed"]["backend"] == "none" and len(history) == 1
assert checkpoint["temperature"] > 0
assert not [m for m in sys.modules if m == "ray" or m.startswith("ray.")]
print("ok")
"""


def test_the_default_path_never_imports_ray():
    run_fresh(NO_RAY)


# ------------------------------------------------ two replicas on a gloo group, without Ray


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _replica(  # noqa: PLR0917 (mp.spawn passes them in order)
    rank: int, world: int, port: int, overrides: dict, poison: bool, out: dict
) -> None:
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    try:
        torch.set_num_threads(1)
        matrix = embedding()
        if poison:
            matrix[2] = np.inf  # the positive token: every replica meets it in its first batch
        replica = Replica(
            rank=rank,
            world_size=world,
            device=torch.device("cpu"),
            wrap=torch.nn.parallel.DistributedDataParallel,
        )
        result = train_model(
            synthetic(240, seed=1), synthetic(80, seed=2), matrix, MODEL, config(**overrides),
            replica=replica,
        )  # fmt: skip
        out[rank] = result
    finally:
        dist.destroy_process_group()


def run_replicas(overrides: dict, poison: bool = False, world: int = 2) -> dict:
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(
            _replica,
            args=(world, _free_port(), overrides, poison, out),
            nprocs=world,
            join=True,
        )
        return dict(out)


def _without_timing(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("seconds", "train_reviews_per_second")}
            for r in history]  # fmt: skip


def test_replicas_train_together_and_agree():
    results = run_replicas({"batch_size": 8, "epochs": 4, "patience": 10})
    first, second = results[0], results[1]
    assert first.stop_reason == second.stop_reason == "completed"
    assert _without_timing(first.history) == _without_timing(second.history)
    assert first.best_epoch == second.best_epoch
    for name, tensor in first.checkpoint["state_dict"].items():
        assert torch.equal(second.checkpoint["state_dict"][name], tensor), name
    assert first.best_valid_accuracy >= 0.95  # it learns: the averaged gradients make sense
    # every replica holds the kept epoch's logits of the whole validation split, in its order
    # (what the training node fits the calibration temperature on)
    np.testing.assert_array_equal(first.best_valid_logits, second.best_valid_logits)
    whole = predict_logits(
        load_model(first.checkpoint),
        synthetic(80, seed=2),
        torch.device("cpu"),
        bf16=False,
        max_length=config().max_length,
    )
    np.testing.assert_allclose(first.best_valid_logits, whole, atol=1e-5)


def test_replicas_stop_together_on_a_non_finite_loss():
    results = run_replicas({"batch_size": 8, "epochs": 3}, poison=True)
    assert {r.stop_reason for r in results.values()} == {"nan_loss"}
    assert all(r.checkpoint is None for r in results.values())


def test_replicas_stop_early_together():
    results = run_replicas({"batch_size": 8, "learning_rate": 1e-12, "patience": 2, "epochs": 9})
    assert {r.stop_reason for r in results.values()} == {"early_stopping"}
    assert {len(r.history) for r in results.values()} == {3}
