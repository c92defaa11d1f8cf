"""Generate a synthetic IMDB-like corpus of any size, resampled and perturbed from the full IMDB.

    .venv/bin/python scripts/make_corpus.py --reviews 500000

writes ``data/01_raw/corpus_500k/{train,test}-NNNNN.parquet`` (the Hub's schema: ``text``,
``label``, ``id``; zstd) and ``corpus.json`` (how it was made), for
``kedro run --params imdb_source=data/01_raw/corpus_500k``. Half the reviews are train, half
test, as in IMDB. Each synthetic review starts from a random review of the same split of the
full IMDB (``--source``) and is perturbed, so no text is a verbatim copy of another or of IMDB:

* its sentences are shuffled (sometimes all, sometimes one pair swapped);
* some sentences are replaced by, or joined with, sentences of other reviews of the same split
  and label (so the label stays plausible);
* words are dropped, swapped with their neighbour, or get a typo (a letter dropped, doubled,
  swapped or replaced): the typos give the corpus new rare words, so its vocabulary keeps
  growing with its size as a real corpus's does.

Train reviews come only from IMDB's train split and test reviews from its test split.
Reproducible: the output depends only on ``--seed``, ``--reviews``, ``--rows-per-file`` and the
source (each file is drawn from its own seed, so ``--workers`` changes nothing but speed).
Memory is bounded by the source (a few hundred MB) and one file of reviews per worker, whatever
``--reviews`` is. The folder appears whole or not at all (written beside it, then renamed).
Nothing here is committed: ``data/01_raw/corpus*/`` is git-ignored.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import re
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from itertools import compress
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from imdb_sentiment.reviews import text_key

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "imdb"
SPLITS = ("train", "test")
SCHEMA = pa.schema([("text", pa.string()), ("label", pa.int64()), ("id", pa.int64())])
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))
MAX_ATTEMPTS = 20  # redraws of a review whose text already exists (short reviews only)


@dataclass(frozen=True)
class Perturbation:
    """How strongly each review is changed (probabilities per review, sentence or word)."""

    shuffle_all: float = 0.3  # shuffle every sentence of the review
    swap_pair: float = 0.4  # else: swap one pair of sentences
    replace_sentence: float = 0.15  # per sentence: replace it with another review's sentence
    add_sentence: float = 0.3  # per review: insert one sentence from another review
    drop_word: float = 0.03  # per word
    swap_words: float = 0.02  # per word: swap with the next one
    typo: float = 0.07  # per word of 4 or more letters; two typos in one of 7 or more


@dataclass
class Source:
    """One split of the full IMDB: its texts and labels, and its sentences by label."""

    texts: list[str]
    labels: np.ndarray
    sentences: dict[int, list[str]]


def load_source(folder: Path, split: str) -> Source:
    """Read ``{split}.parquet`` (or ``{split}*.parquet``) of the full IMDB in ``folder``."""
    files = sorted(folder.glob(f"{split}*.parquet"))
    if not files:
        raise FileNotFoundError(f"no {split}*.parquet in {folder}")
    table = pa.concat_tables(pq.read_table(file, columns=["text", "label"]) for file in files)
    texts = table.column("text").to_pylist()
    labels = table.column("label").to_numpy()
    sentences: dict[int, list[str]] = {0: [], 1: []}
    for text, label in zip(texts, labels.tolist(), strict=True):
        sentences[int(label)].extend(s for s in SENTENCE_END.split(text) if s.strip())
    return Source(texts=texts, labels=labels, sentences=sentences)


def _typo(word: str, rng: np.random.Generator) -> str:
    """One letter of ``word`` dropped, doubled, swapped with the next or replaced."""
    position = int(rng.integers(1, len(word) - 1))
    kind = int(rng.integers(4))
    if kind == 0:
        return word[:position] + word[position + 1 :]
    if kind == 1:
        return word[: position + 1] + word[position:]
    if kind == 2:
        return word[: position - 1] + word[position] + word[position - 1] + word[position + 1 :]
    return word[:position] + str(rng.choice(LETTERS)) + word[position + 1 :]


def perturb_words(text: str, rng: np.random.Generator, settings: Perturbation) -> str:
    """Drop, swap and misspell space-separated words of ``text``."""
    words = text.split(" ")
    n = len(words)
    if n < 2:
        return text
    draws = rng.random((3, n))
    for position in np.flatnonzero(draws[1] < settings.swap_words):
        if position + 1 < n:
            words[position], words[position + 1] = words[position + 1], words[position]
    for position in np.flatnonzero(draws[2] < settings.typo):
        word = words[position]
        if len(word) >= 4 and word.isalpha():
            word = _typo(word, rng)
            words[position] = _typo(word, rng) if len(word) >= 7 else word
    keep = draws[0] >= settings.drop_word
    if not keep.any():
        return text
    return " ".join(compress(words, keep.tolist()))


def perturb(
    text: str, label: int, source: Source, rng: np.random.Generator, settings: Perturbation
) -> str:
    """A new review from ``text``: sentences shuffled, spliced from others, words perturbed."""
    sentences = [s for s in SENTENCE_END.split(text) if s.strip()] or [text]
    pool = source.sentences[label]
    if len(sentences) > 1:
        draw = rng.random()
        if draw < settings.shuffle_all:
            sentences = [sentences[i] for i in rng.permutation(len(sentences))]
        elif draw < settings.shuffle_all + settings.swap_pair:
            i, j = rng.choice(len(sentences), size=2, replace=False)
            sentences[i], sentences[j] = sentences[j], sentences[i]
    for position in np.flatnonzero(rng.random(len(sentences)) < settings.replace_sentence):
        sentences[position] = pool[int(rng.integers(len(pool)))]
    if rng.random() < settings.add_sentence:
        sentences.insert(int(rng.integers(len(sentences) + 1)), pool[int(rng.integers(len(pool)))])
    return perturb_words(" ".join(sentences), rng, settings)


@dataclass(frozen=True)
class FileTask:
    """One output file: ``rows`` reviews of ``split``, ids from ``first_id``, its own seed."""

    split: str
    index: int
    first_id: int
    rows: int
    seed: int


# The sources and settings, set in the parent before the pool forks (workers inherit them).
_SOURCES: dict[str, Source] = {}
_SETTINGS = Perturbation()


def draw_file(task: FileTask) -> tuple[list[str], np.ndarray]:
    """The texts and labels of one file (candidates: repeats are settled by the parent)."""
    source = _SOURCES[task.split]
    rng = np.random.default_rng([task.seed, SPLITS.index(task.split), task.index])
    picks = rng.integers(len(source.texts), size=task.rows)
    labels = source.labels[picks].astype(np.int64)
    texts = [
        perturb(source.texts[pick], int(label), source, rng, _SETTINGS)
        for pick, label in zip(picks.tolist(), labels.tolist(), strict=True)
    ]
    return texts, labels


def redraw(task: FileTask, row: int, attempt: int, label: int) -> str:
    """Another text for row ``row`` of ``task`` (its own seed: the same on every run)."""
    source = _SOURCES[task.split]
    rng = np.random.default_rng([task.seed, SPLITS.index(task.split), task.index, row, attempt])
    candidates = np.flatnonzero(source.labels == label)
    pick = int(candidates[rng.integers(len(candidates))])
    return perturb(source.texts[pick], label, source, rng, _SETTINGS)


def plan(total: int, rows_per_file: int, seed: int) -> list[FileTask]:
    """The files of a corpus of ``total`` reviews: half train (rounded up), half test."""
    tasks = []
    for split, count in (("train", (total + 1) // 2), ("test", total // 2)):
        for index, first in enumerate(range(0, count, rows_per_file)):
            rows = min(rows_per_file, count - first)
            tasks.append(FileTask(split, index, first, rows, seed))
    return tasks


def file_name(task: FileTask, files_in_split: int) -> str:
    """``train-00003-of-00010.parquet``, the Hub's naming (the source reads ``train*``)."""
    return f"{task.split}-{task.index:05d}-of-{files_in_split:05d}.parquet"


def make_corpus(
    out: Path,
    total: int,
    *,
    source: Path = DEFAULT_SOURCE,
    seed: int = 0,
    rows_per_file: int = 25_000,
    workers: int = 2,
    settings: Perturbation | None = None,
) -> dict:
    """Write the corpus to ``out`` (replacing it whole); return its manifest."""
    global _SETTINGS  # noqa: PLW0603 - inherited by the forked workers
    if total < 2 or rows_per_file < 1:
        raise ValueError(f"need >= 2 reviews and >= 1 row per file, got {total}, {rows_per_file}")
    started = time.perf_counter()
    _SETTINGS = settings or Perturbation()
    tasks = plan(total, rows_per_file, seed)
    per_split = {split: sum(t.split == split for t in tasks) for split in SPLITS}
    staging = out.with_name(f".{out.name}.partial")
    counts = {split: {"reviews": 0, "negative": 0, "positive": 0} for split in SPLITS}
    redrawn = 0
    try:
        for split in SPLITS:
            _SOURCES[split] = load_source(source, split)
        seen = {text_key(text) for split in SPLITS for text in _SOURCES[split].texts}
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        context = mp.get_context("fork")
        with context.Pool(workers) if workers > 1 else _InProcess() as pool:
            for task, (texts, labels) in _drawn(pool, tasks, window=2 * workers):
                for row in range(len(texts)):
                    key, attempt = text_key(texts[row]), 0
                    while key in seen:  # a repeat of IMDB or of an earlier review: redraw it
                        attempt += 1
                        if attempt > MAX_ATTEMPTS:
                            raise RuntimeError(f"{task}: row {row} keeps repeating a text")
                        texts[row] = redraw(task, row, attempt, int(labels[row]))
                        key = text_key(texts[row])
                    seen.add(key)
                    redrawn += attempt > 0
                table = pa.table(
                    {
                        "text": pa.array(texts, pa.string()),
                        "label": pa.array(labels, pa.int64()),
                        "id": pa.array(np.arange(task.first_id, task.first_id + task.rows)),
                    },
                    schema=SCHEMA,
                )
                pq.write_table(
                    table,
                    staging / file_name(task, per_split[task.split]),
                    compression="zstd",
                    row_group_size=10_000,
                )
                tally = counts[task.split]
                tally["reviews"] += task.rows
                tally["positive"] += int(labels.sum())
                tally["negative"] += int(task.rows - labels.sum())
        manifest = {
            "reviews": total,
            "splits": counts,
            "seed": seed,
            "rows_per_file": rows_per_file,
            "source": str(source),
            "perturbation": asdict(_SETTINGS),
            "redrawn_repeats": redrawn,
            "seconds": round(time.perf_counter() - started, 1),
        }
        (staging / "corpus.json").write_text(json.dumps(manifest, indent=2) + "\n")
        shutil.rmtree(out, ignore_errors=True)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        _SOURCES.clear()
    return manifest


def _drawn(pool, tasks: list[FileTask], window: int):
    """``(task, draw_file(task))`` in order, at most ``window`` files drawn ahead of the writer."""
    for start in range(0, len(tasks), window):
        part = tasks[start : start + window]
        yield from zip(part, pool.imap(draw_file, part), strict=True)


class _InProcess:
    """The pool's ``imap`` in this process (``--workers 1``)."""

    def __enter__(self) -> _InProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    @staticmethod
    def imap(func, items):
        return map(func, items)


def default_out(total: int) -> Path:
    """``data/01_raw/corpus_500k`` for 500,000 reviews."""
    size = f"{total // 1000}k" if total % 1000 == 0 else str(total)
    return Path("data/01_raw") / f"corpus_{size}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, required=True, help="train + test reviews")
    parser.add_argument("--out", type=Path, help="default: data/01_raw/corpus_<N>")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the full IMDB")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows-per-file", type=int, default=25_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    out = args.out or default_out(args.reviews)
    manifest = make_corpus(
        out,
        args.reviews,
        source=args.source,
        seed=args.seed,
        rows_per_file=args.rows_per_file,
        workers=args.workers,
    )
    size = sum(p.stat().st_size for p in out.glob("*.parquet"))
    print(
        f"{out}: {manifest['splits']['train']['reviews']:,} train + "
        f"{manifest['splits']['test']['reviews']:,} test reviews, {size / 1e6:.0f} MB, "
        f"{manifest['seconds']} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
