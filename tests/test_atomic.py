"""Whole-or-nothing writes: atomic_write, the cleanup of killed writers' temporaries, and the
kedro-datasets subclasses the catalog uses."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib
import mlflow
import pandas as pd
import pytest
from kedro.io import DatasetError
from kedro.io.core import Version
from kedro_mlflow.io.artifacts import MlflowArtifactDataset
from matplotlib.figure import Figure

from imdb_sentiment.atomic import (
    atomic_open,
    atomic_write,
    is_temporary,
    make_temporary_dir,
    remove_temporaries,
)
from imdb_sentiment.datasets.atomic import JSONDataset, MatplotlibDataset, ParquetDataset

matplotlib.use("Agg")
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"good")
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write(b"half")
        raise RuntimeError("disk full, say")
    assert target.read_bytes() == b"good"
    assert list(tmp_path.iterdir()) == [target]


def test_text_mode_and_file_mode(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"
    with atomic_open(target, "w", encoding="utf-8") as handle:
        handle.write("café\n")
    assert target.read_text(encoding="utf-8") == "café\n"
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    with pytest.raises(ValueError, match="mode 'w' or 'wb'"), atomic_open(target, "a"):
        pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_only_our_temporaries_are_removed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ours = [
        data / "02_intermediate" / ".train_reviews.parquet.k3j_9x0a.tmp",
        data / "06_models" / "model.pt" / "2026-01-01T00.00.00.000Z" / ".model.pt.abcdefgh.tmp",
    ]
    others = [
        data / "02_intermediate" / "train_reviews.parquet",
        data / "02_intermediate" / "notes.tmp",
        data / "02_intermediate" / ".hidden",
        data / "02_intermediate" / ".train.parquet.short.tmp",  # not tempfile's 8 characters
        data / "02_intermediate" / ".train.parquet.ABCDEFGH.tmp",  # nor its alphabet
    ]
    for path in ours + others:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    folder = make_temporary_dir(data / "01_raw" / "hf_cache", "parquet-cache")
    (folder / "inside.arrow").write_bytes(b"x")

    removed = remove_temporaries(data)

    assert sorted(removed) == sorted([*ours, folder])
    assert all(path.exists() for path in others)
    assert not folder.exists()
    assert is_temporary(folder)
    assert remove_temporaries(tmp_path / "missing") == []


# --------------------------------------------------------------------------- the datasets


def frame(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"id": range(rows), "text": [f"review {i} " * 20 for i in range(rows)]})


def test_parquet_json_and_png_round_trip(tmp_path: Path) -> None:
    parquet = ParquetDataset(filepath=str(tmp_path / "reviews.parquet"))
    parquet.save(frame(10))
    pd.testing.assert_frame_equal(parquet.load(), frame(10))

    document = JSONDataset(filepath=str(tmp_path / "metrics.json"), save_args={"indent": 2})
    document.save({"accuracy": 0.9, "word": "café"})
    assert document.load() == {"accuracy": 0.9, "word": "café"}

    figure = Figure()
    figure.add_subplot().plot([0, 1], [1, 0])
    image = MatplotlibDataset(filepath=str(tmp_path / "curve.png"))
    image.save(figure)
    assert (tmp_path / "curve.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "curve.png",
        "metrics.json",
        "reviews.parquet",
    ]


def test_a_json_save_failing_midway_keeps_the_earlier_file(tmp_path: Path) -> None:
    path = tmp_path / "vocabulary.json"
    dataset = JSONDataset(filepath=str(path))
    dataset.save({"itos": ["<pad>", "<unk>", "film"]})
    earlier = path.read_bytes()
    # json.dump writes the first keys before it meets the object it cannot encode
    with pytest.raises(DatasetError, match="not JSON serializable"):
        dataset.save({"itos": ["<pad>"] * 10_000, "broken": object()})
    assert path.read_bytes() == earlier
    assert [p.name for p in tmp_path.iterdir()] == ["vocabulary.json"]


def test_versioned_saves_go_to_kedros_version_folders(tmp_path: Path) -> None:
    path = tmp_path / "training_history.json"
    for version, epochs in (("2026-01-01T00.00.00.000Z", 1), ("2026-01-02T00.00.00.000Z", 2)):
        JSONDataset(filepath=str(path), version=Version(None, version)).save([{"e": epochs}])
    assert JSONDataset(filepath=str(path), version=Version(None, None)).load() == [{"e": 2}]
    assert sorted(p.name for p in path.iterdir()) == [
        "2026-01-01T00.00.00.000Z",
        "2026-01-02T00.00.00.000Z",
    ]


@pytest.mark.slow  # a fresh MLflow store (30 s on a busy 2-core machine)
def test_inside_kedro_mlflows_artifact_wrapper_the_file_is_logged(tmp_path: Path) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        experiment = mlflow.create_experiment("atomic", artifact_location=str(tmp_path / "art"))
        dataset = MlflowArtifactDataset(
            dataset={
                "type": "imdb_sentiment.datasets.atomic.ParquetDataset",
                "filepath": str(tmp_path / "predictions.parquet"),
            },
            artifact_path="evaluation",
        )
        with mlflow.start_run(experiment_id=experiment) as run:
            dataset.save(frame(5))
        artifacts = mlflow.MlflowClient().list_artifacts(run.info.run_id, "evaluation")
    finally:
        mlflow.set_tracking_uri(None)
    assert isinstance(dataset, ParquetDataset)
    assert [a.path for a in artifacts] == ["evaluation/predictions.parquet"]
    pd.testing.assert_frame_equal(dataset.load(), frame(5))


FULL_DISK_SCRIPT = textwrap.dedent(
    """
    import resource, signal, sys
    import pandas as pd
    from kedro_datasets.pandas import ParquetDataset as Plain
    from imdb_sentiment.datasets.atomic import ParquetDataset as Atomic

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, as a full disk gives ENOSPC
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
    big = pd.DataFrame({"text": [f"review {i} " * 50 for i in range(20_000)]})
    for kind, path in zip((Atomic, Plain), sys.argv[1:]):
        try:
            kind(filepath=path).save(big)
        except Exception as error:
            print(type(error).__name__, error)
    """
)


def test_a_save_past_a_size_cap_keeps_the_earlier_parquet(tmp_path: Path) -> None:
    """The issue's full disk, with a file-size cap in a child process: kedro-datasets' own
    dataset truncates the earlier file; the project's keeps it whole."""
    ours, theirs = tmp_path / "ours" / "reviews.parquet", tmp_path / "theirs" / "reviews.parquet"
    for path in (ours, theirs):
        ParquetDataset(filepath=str(path)).save(frame(100))
    earlier = ours.read_bytes()

    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK_SCRIPT, str(ours), str(theirs)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=True,
    )

    assert result.stdout.count("File too large") == 2, result.stdout + result.stderr
    assert ours.read_bytes() == earlier
    assert list(ours.parent.iterdir()) == [ours]  # and no temporary left
    assert theirs.read_bytes() != earlier  # what the project's datasets prevent
    with pytest.raises(Exception, match="Parquet"):
        pd.read_parquet(theirs)


def test_the_catalog_writes_every_local_output_whole() -> None:
    """Every kedro-datasets type in the catalog is one of the whole-or-nothing subclasses."""
    plain = []
    for catalog in sorted((PROJECT_ROOT / "conf").rglob("catalog*.yml")):
        text = catalog.read_text()
        for kind in ("pandas.ParquetDataset", "json.JSONDataset", "matplotlib.MatplotlibDataset"):
            if f"type: {kind}" in text:
                plain.append(f"{catalog.relative_to(PROJECT_ROOT)}: {kind}")
    assert plain == []
