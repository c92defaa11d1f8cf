"""Copy the project's model inputs into a small folder for the GPU check, and verify them.

After ``kedro run --env=full --params imdb_source=../shared/data/imdb`` (through the features
pipeline) the inputs are ``data/05_model_input/{train,valid,test}_ids.npz`` and
``embedding_matrix.npy``. This re-saves the ids compressed (as uint16 when the vocabulary
fits), copies the matrix, checks that they load and agree, and that the folder stays small
enough to travel with the code to the device machine (``--max-mib``, default 50).

    python benchmarks/make_device_features.py [--source data/05_model_input]
                                              [--dest .device/features]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
for _path in (str(ROOT / "src"), str(BENCH_DIR)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from device_check import FEATURE_FILES, load_features  # noqa: E402

from imdb_sentiment.atomic import atomic_write  # noqa: E402
from imdb_sentiment.sequences import EncodedReviews  # noqa: E402

DEFAULT_SOURCE = ROOT / "data" / "05_model_input"
DEFAULT_DEST = ROOT / ".device" / "features"
SPLITS = ("train", "valid", "test")


def _save_matrix(matrix: np.ndarray, path: Path) -> None:
    """Whole or not at all: a temporary file beside ``path``, then a rename."""
    with atomic_write(path) as handle:
        np.save(handle, matrix)


def make_features(
    source: str | os.PathLike, dest: str | os.PathLike, max_mib: float = 50.0
) -> dict[str, int]:
    """Write the compact copy of ``source`` into ``dest``; the size of each file in bytes."""
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
    load_features(dest)  # as the device check will read them
    sizes = {name: (dest / name).stat().st_size for name in FEATURE_FILES}
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
    parser.add_argument("--dest", default=str(DEFAULT_DEST))
    parser.add_argument("--max-mib", type=float, default=50.0)
    args = parser.parse_args(argv)
    sizes = make_features(args.source, args.dest, args.max_mib)
    for name, size in sizes.items():
        print(f"{name:<22}{size / 2**20:>8.2f} MiB")
    print(f"{'total':<22}{sum(sizes.values()) / 2**20:>8.2f} MiB in {args.dest}")
    return sizes


if __name__ == "__main__":
    main()
