"""Draw the bundled IMDB sample: a stratified, seeded subset in the Hub's parquet schema.

    .venv/bin/python scripts/make_sample.py --source ../shared/data/imdb

writes ``data/01_raw/imdb_sample/{train,test}.parquet`` (columns ``id``, ``text``, ``label``;
zstd) with balanced classes. ``--source`` takes anything ``IMDBSourceDataset`` reads (a parquet
folder, ``aclImdb_v1.tar.gz``, an extracted folder, ``hf://stanfordnlp/imdb``); ``id`` is the
review's id in that full source, so a sampled review can be traced back.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from imdb_sentiment.atomic import atomic_write
from imdb_sentiment.datasets.imdb_source import IMDBSourceDataset


def stratified_sample(table: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    """``size`` rows, half of each label, drawn with ``seed``; kept in id order."""
    if size % 2:
        raise ValueError(f"sample size must be even to balance two classes, got {size}")
    parts = []
    for label in (0, 1):
        rows = table[table["label"] == label]
        if len(rows) < size // 2:
            raise ValueError(f"only {len(rows)} reviews with label {label}, need {size // 2}")
        parts.append(rows.sample(n=size // 2, random_state=seed))
    return pd.concat(parts).sort_values("id").reset_index(drop=True)


def write_parquet(table: pd.DataFrame, path: Path) -> None:
    """Write ``table`` whole or not at all (temporary file, then rename)."""
    arrow = pa.Table.from_pandas(table, preserve_index=False).cast(
        pa.schema([("id", pa.int64()), ("text", pa.string()), ("label", pa.int64())])
    )
    with atomic_write(path) as handle:
        pq.write_table(arrow, handle, compression="zstd", compression_level=19)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, draw both samples, write them, report sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "imdb")
    )
    parser.add_argument("--out", type=Path, default=Path("data/01_raw/imdb_sample"))
    parser.add_argument("--train-size", type=int, default=4500)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-bytes", type=int, default=5_000_000)
    args = parser.parse_args(argv)

    raw = IMDBSourceDataset(source=args.source).load()
    sizes = {"train": args.train_size, "test": args.test_size}
    total = 0
    for split, size in sizes.items():
        sample = stratified_sample(raw[split], size, args.seed)
        path = args.out / f"{split}.parquet"
        write_parquet(sample, path)
        total += path.stat().st_size
        print(
            f"{path}: {len(sample)} reviews, labels {sample['label'].value_counts().to_dict()}, "
            f"{path.stat().st_size:,} bytes"
        )
    print(f"total {total:,} bytes")
    if total > args.max_bytes:
        print(f"sample exceeds --max-bytes {args.max_bytes:,}; lower the sizes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
