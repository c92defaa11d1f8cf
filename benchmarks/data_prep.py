"""Data-preparation benchmark: full IMDB parquet to id sequences, timed and memory-measured.

Reads train and test parquet, tokenizes all 50,000 reviews with the parallel spaCy driver,
builds the vocabulary from train and encodes both splits, as the tokenization and features
pipelines do (in memory, without their parquet hand-off). Target: <= 20 s wall, <= 3 GB peak
RSS of the process tree on a 2-core machine.

    python benchmarks/data_prep.py [--data-dir ../shared/data/imdb] [--n-workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from imdb_sentiment.text import BREAK_TAG, TokenizerConfig, load_tokenizer, tokenize_to_arrow
from imdb_sentiment.vocabulary import Vocabulary, encode_reviews, token_lists

DEFAULT_DATA_DIR = Path(
    os.environ.get(
        "IMDB_PARQUET_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data" / "imdb")
    )
)
SPLITS = ("train", "test")
TARGET_SECONDS = 20.0
TARGET_PEAK_BYTES = 3 * 1024**3


def _memory_bytes(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process; PSS shares pages among the processes using them."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            fields = dict(line.split(":", 1) for line in handle if ":" in line)
        return tuple(int(fields[key].split()[0]) * 1024 for key in ("Rss", "Pss"))
    except (OSError, KeyError, IndexError, ValueError):
        return 0, 0


def _cpu_seconds_of(pid: int) -> float:
    """User + system CPU time of one process so far (its reaped children not included)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc)."""
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found.extend(int(child) for child in handle.read().split())
    except OSError:
        pass
    return found


class TreeRssSampler:
    """Samples the summed RSS and PSS of a process (this one by default) and its descendants;
    keeps the peaks.

    Forked workers share the parent's pages: the RSS sum counts those once per process
    (an upper bound), the PSS sum splits them (what the tree really holds). ``cpu_seconds`` is
    the CPU time of every process seen in the tree, as of its last sample (a measure of work
    that, unlike wall time, does not grow with other jobs' load).
    """

    def __init__(self, interval_s: float = 0.05, root_pid: int | None = None) -> None:
        self.interval_s = interval_s
        self.root_pid = root_pid or os.getpid()
        self.peak_bytes = 0
        self.peak_pss_bytes = 0
        self.last_bytes = self.last_pss_bytes = 0
        self._cpu_by_pid: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        rss = pss = 0
        todo = [self.root_pid]
        while todo:
            pid = todo.pop()
            one_rss, one_pss = _memory_bytes(pid)
            rss, pss = rss + one_rss, pss + one_pss
            cpu = _cpu_seconds_of(pid)
            self._cpu_by_pid[pid] = max(self._cpu_by_pid.get(pid, 0.0), cpu)
            todo.extend(_children(pid))
        self.last_bytes, self.last_pss_bytes = rss, pss
        self.peak_bytes = max(self.peak_bytes, rss)
        self.peak_pss_bytes = max(self.peak_pss_bytes, pss)

    @property
    def cpu_seconds(self) -> float:
        """CPU seconds of the processes seen in the tree so far."""
        return sum(list(self._cpu_by_pid.values()))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> TreeRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the tokenizer workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_data_prep_benchmark(
    data_dir: str | os.PathLike = DEFAULT_DATA_DIR,
    *,
    n_workers: int = 2,
    chunk_size: int = 20_000,
    spacy_model: str = "blank:en",
    lowercase: bool = True,
    max_size: int = 10_000,
) -> dict[str, Any]:
    """Run parquet → tokens → vocabulary → ids once; the figures as a dict."""
    data_dir = Path(data_dir)
    config = TokenizerConfig(spacy_model=spacy_model, lowercase=lowercase)
    stages: dict[str, float] = {}
    cpu_before = _cpu_seconds()
    with TreeRssSampler() as sampler:
        started = time.perf_counter()
        frames = {
            split: pd.read_parquet(data_dir / f"{split}.parquet", columns=["id", "text", "label"])
            for split in SPLITS
        }
        texts = pa.concat_arrays(
            [pa.array(frames[split]["text"], type=pa.large_string()) for split in frames]
        )
        stages["read_parquet_s"] = time.perf_counter() - started

        mark = time.perf_counter()
        lists = tokenize_to_arrow(texts, config, n_workers=n_workers, chunk_size=chunk_size)
        del texts
        stages["tokenize_s"] = time.perf_counter() - mark

        mark = time.perf_counter()
        n_train = len(frames["train"])
        tokens = {
            split: pd.DataFrame(
                {
                    "id": frame["id"].to_numpy(dtype="int64"),
                    "label": frame["label"].to_numpy(dtype="int64"),
                    "tokens": pd.Series(part, dtype=pd.ArrowDtype(part.type)),
                }
            )
            for split, frame, part in (
                ("train", frames["train"], lists.slice(0, n_train)),
                ("test", frames["test"], lists.slice(n_train)),
            )
        }
        vocabulary = Vocabulary.build(
            token_lists(tokens["train"], "train_tokens"), max_size=max_size, tokenization=config
        )
        stages["vocabulary_s"] = time.perf_counter() - mark

        mark = time.perf_counter()
        encoded = {
            split: encode_reviews(table, vocabulary, f"{split}_tokens")
            for split, table in tokens.items()
        }
        stages["encode_s"] = time.perf_counter() - mark
        wall = time.perf_counter() - started
    cpu_after = _cpu_seconds()

    n_tokens = int(sum(len(e.ids) for e in encoded.values()))
    self_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {
        "reviews": int(sum(len(e) for e in encoded.values())),
        "tokens": n_tokens,
        "vocabulary_size": len(vocabulary),
        "n_workers": n_workers,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "wall_s": wall,
        "tokens_per_s": n_tokens / wall,
        **stages,
        "cpu_s": cpu_after - cpu_before,
        "peak_tree_rss_bytes": sampler.peak_bytes,
        "peak_tree_pss_bytes": sampler.peak_pss_bytes,
        # Bound from getrusage: this process's peak plus the largest worker's, per worker.
        # Forked workers share the parent's pages, so both figures count those twice.
        "peak_rss_bound_bytes": self_peak + (n_workers * child_peak if n_workers > 1 else 0),
        "self_peak_rss_bytes": self_peak,
        "worker_peak_rss_bytes": child_peak,
        "meets_time_target": wall <= TARGET_SECONDS,
        "meets_memory_target": sampler.peak_bytes <= TARGET_PEAK_BYTES,
    }


def check_against_spacy(
    data_dir: str | os.PathLike = DEFAULT_DATA_DIR, *, lowercase: bool = True, n_workers: int = 2
) -> int:
    """Reviews whose driver tokens differ from plain ``nlp.tokenizer(text)`` (slow: minutes)."""
    config = TokenizerConfig(lowercase=lowercase)
    texts = pd.concat(
        [pd.read_parquet(Path(data_dir) / f"{split}.parquet")["text"] for split in SPLITS]
    ).tolist()
    fast = tokenize_to_arrow(texts, config, n_workers=n_workers).to_pylist()
    tokenizer = load_tokenizer(config.spacy_model)
    differing = 0
    for text, tokens in zip(texts, fast, strict=True):
        doc = tokenizer(re.sub(BREAK_TAG, " ", text))
        plain = [t.text.lower() if lowercase else t.text for t in doc if not t.text.isspace()]
        if plain != tokens:
            differing += 1
            if differing <= 3:
                print("differs:", text[:200])
    return differing


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("--n-workers", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=20_000)
    parser.add_argument("--keep-case", action="store_true", help="do not lowercase tokens")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    parser.add_argument(
        "--check", action="store_true", help="also compare every review with plain spaCy (slow)"
    )
    args = parser.parse_args(argv)
    if args.check:
        differing = check_against_spacy(
            args.data_dir, lowercase=not args.keep_case, n_workers=args.n_workers
        )
        print(f"check: {differing} reviews tokenized differently from plain spaCy")
    result = run_data_prep_benchmark(
        args.data_dir,
        n_workers=args.n_workers,
        chunk_size=args.chunk_size,
        lowercase=not args.keep_case,
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return result
    gib = 1024**3
    print(
        f"data prep: {result['reviews']} reviews, {result['tokens']:,} tokens, "
        f"vocabulary {result['vocabulary_size']}, {result['n_workers']} worker(s), "
        f"load average {result['load_average'][0]:.2f} on {result['cpu_count']} CPUs\n"
        f"  wall {result['wall_s']:.2f} s (target <= {TARGET_SECONDS:.0f} s): "
        f"read {result['read_parquet_s']:.2f}, tokenize {result['tokenize_s']:.2f}, "
        f"vocabulary {result['vocabulary_s']:.2f}, encode {result['encode_s']:.2f}\n"
        f"  {result['tokens_per_s']:,.0f} tokens/s, {result['cpu_s']:.1f} CPU s in all\n"
        f"  peak RSS of the process tree {result['peak_tree_rss_bytes'] / gib:.2f} GiB "
        f"(target <= 3 GiB; PSS {result['peak_tree_pss_bytes'] / gib:.2f} GiB, "
        f"getrusage bound {result['peak_rss_bound_bytes'] / gib:.2f} GiB)"
    )
    return result


if __name__ == "__main__":
    main()
