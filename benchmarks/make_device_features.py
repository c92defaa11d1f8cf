"""Copy the project's model inputs into a small folder for the GPU check, and verify them.

After ``kedro run --env=full --params imdb_source=../shared/data/imdb`` (through the features
pipeline) the inputs are ``data/05_model_input/{train,valid,test}_ids.npz`` and
``embedding_matrix.npy``. This re-saves the ids compressed (as uint16 when the vocabulary
fits), copies the matrix, writes ``settings.json`` (the training settings of ``--env``, default
``full``, as Kedro resolves them, and the vocabulary's pad index: the device machine has no
Kedro to read ``conf/``), checks that everything loads and agrees, and that the folder stays
small enough to travel with the code to the device machine (``--max-mib``, default 50).

    python benchmarks/make_device_features.py [--source data/05_model_input]
                                              [--vocabulary data/03_primary/vocabulary.json]
                                              [--env full] [--dest .device/features]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
for _path in (str(ROOT / "src"), str(BENCH_DIR)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from device_check import FEATURE_FILES, SETTINGS_FILE, load_features  # noqa: E402
from kedro.config import OmegaConfigLoader  # noqa: E402

from imdb_sentiment.atomic import atomic_write  # noqa: E402
from imdb_sentiment.datasets.vocabulary import VocabularyDataset  # noqa: E402
from imdb_sentiment.sequences import EncodedReviews  # noqa: E402
from imdb_sentiment.settings import CONFIG_LOADER_ARGS  # noqa: E402
from imdb_sentiment.training import settings_from_params  # noqa: E402

DEFAULT_SOURCE = ROOT / "data" / "05_model_input"
DEFAULT_VOCABULARY = ROOT / "data" / "03_primary" / "vocabulary.json"
DEFAULT_DEST = ROOT / ".device" / "features"
SPLITS = ("train", "valid", "test")


def resolved_settings(vocabulary: str | os.PathLike, env: str = "full") -> dict[str, Any]:
    """``training`` of ``env`` as ``kedro run --env=<env>`` resolves it, and the pad index."""
    loader = OmegaConfigLoader(conf_source=str(ROOT / "conf"), env=env, **CONFIG_LOADER_ARGS)
    training = loader["parameters"]["training"]
    settings_from_params(training)  # a bad configuration fails here, not on the device
    pad_index = VocabularyDataset(filepath=str(vocabulary)).load().pad_index
    return {"env": env, "training": training, "pad_index": pad_index}


def _save_matrix(matrix: np.ndarray, path: Path) -> None:
    """Whole or not at all: a temporary file beside ``path``, then a rename."""
    with atomic_write(path) as handle:
        np.save(handle, matrix)


def make_features(
    source: str | os.PathLike,
    dest: str | os.PathLike,
    vocabulary: str | os.PathLike = DEFAULT_VOCABULARY,
    env: str = "full",
    max_mib: float = 50.0,
) -> dict[str, int]:
    """Write the compact copy of ``source`` and the settings into ``dest``; sizes in bytes."""
    source, dest = Path(source), Path(dest)
    missing = [name for name in FEATURE_FILES if not (source / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{source}: missing {missing}; run `kedro run --env=full --params "
            "imdb_source=../shared/data/imdb` (through the features pipeline) first"
        )
    matrix = np.load(source / "embedding_matrix.npy", allow_pickle=False)
    if matrix.ndim != 2 or matrix.dtype != np.float32:
        raise ValueError(
            f"{source / 'embedding_matrix.npy'}: expected a 2-d float32 matrix, "
            f"got {matrix.dtype} {matrix.shape}"
        )
    id_type = np.uint16 if matrix.shape[0] <= np.iinfo(np.uint16).max + 1 else np.int32
    dest.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        path = source / f"{split}_ids.npz"
        encoded = EncodedReviews.load_npz(path)
        if len(encoded.ids) and (encoded.ids.min() < 0 or encoded.ids.max() >= matrix.shape[0]):
            raise ValueError(
                f"{path}: ids run from {encoded.ids.min()} to {encoded.ids.max()}, outside the "
                f"embedding matrix of {matrix.shape[0]} rows"
            )
        EncodedReviews(
            ids=encoded.ids.astype(id_type),
            offsets=encoded.offsets,
            labels=encoded.labels,
            review_ids=encoded.review_ids,
        ).save_npz(dest / f"{split}_ids.npz", compressed=True)
    _save_matrix(matrix, dest / "embedding_matrix.npy")
    with atomic_write(dest / SETTINGS_FILE) as handle:
        handle.write(json.dumps(resolved_settings(vocabulary, env), indent=2).encode())
    load_features(dest)  # as the device check will read them
    sizes = {name: (dest / name).stat().st_size for name in (*FEATURE_FILES, SETTINGS_FILE)}
    total = sum(sizes.values())
    if total > max_mib * 2**20:
        raise ValueError(
            f"{dest}: {total / 2**20:.1f} MiB is over the {max_mib} MiB that may travel to the "
            "device machine"
        )
    return sizes


def main(argv: list[str] | None = None) -> dict[str, int]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(DEFAULT_SOURCE))
    parser.add_argument("--vocabulary", default=str(DEFAULT_VOCABULARY))
    parser.add_argument("--env", default="full", help="the configuration environment")
    parser.add_argument("--dest", default=str(DEFAULT_DEST))
    parser.add_argument("--max-mib", type=float, default=50.0)
    args = parser.parse_args(argv)
    sizes = make_features(args.source, args.dest, args.vocabulary, args.env, args.max_mib)
    for name, size in sizes.items():
        print(f"{name:<22}{size / 2**20:>8.2f} MiB")
    print(f"{'total':<22}{sum(sizes.values()) / 2**20:>8.2f} MiB in {args.dest}")
    return sizes


if __name__ == "__main__":
    main()
