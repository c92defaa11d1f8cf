"""The spaCy tokenizer for reviews and a driver that runs it fast on many reviews.

spaCy's tokenizer cuts a text at spaces and tokenizes each space-separated piece on its own
(prefixes, suffixes, infixes, special cases; whitespace runs other than one space become
whitespace tokens). The driver uses that: it splits all reviews at spaces with Arrow,
keeps each distinct piece once (50,000 IMDB reviews: 11.6M pieces, 0.4M distinct), has spaCy
tokenize only the distinct pieces (in ``n_workers`` worker processes, in big contiguous
chunks) and then expands the result back to every review with Arrow/numpy gathers. spaCy's
own ``n_process`` is slower than one process for tokenizer-only work. A corpus too big to hold
goes through :class:`PieceTokenizer` a batch of reviews at a time; it remembers the tokens of
the distinct pieces it has seen (up to a bound), so each batch only sends spaCy the pieces new
to it.

The tokens are those of ``[t.text for t in nlp.tokenizer(text)]`` minus whitespace-only ones,
with one deliberate difference: each piece is tokenized as spaCy tokenizes it alone. Plain
spaCy's special-case pass can match across a single space and so depends on the neighbouring
words (``foo' ''villain`` gives ``'``, ``'``, ``'`` but ``''villain`` alone gives ``''``); that
touches 5 of the 50,000 IMDB reviews (``benchmarks/data_prep.py --check`` counts them) and
would otherwise make the result depend on how reviews are chunked.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import signal
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from imdb_sentiment.batches import Batches

logger = logging.getLogger(__name__)

BLANK_PREFIX = "blank:"
BREAK_TAG = r"(?i)<br\s*/?\s*>"  # <br />, <br>, <br/>, <BR />
PIECES_PER_DOC = 5000  # distinct pieces joined into one text for one tokenizer call
# Joins pieces: a whitespace token between them, so spaCy's special-case pass (which matches
# token sequences across single spaces) cannot tie one piece to the next.
PIECE_SEPARATOR = "\n"

# Distinct pieces whose tokens a PieceTokenizer keeps at most (a few hundred MB of Arrow data).
DEFAULT_MAX_CACHED_PIECES = 4_000_000

# Tokenizers built in this process, by model name.
_TOKENIZERS: dict[str, Any] = {}


@dataclass(frozen=True)
class TokenizerConfig:
    """What decides the tokens: the spaCy model whose tokenizer is used, and lowercasing."""

    spacy_model: str = "blank:en"
    lowercase: bool = True

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> TokenizerConfig:
        """From the ``tokenization`` parameters (driver keys such as ``n_workers`` ignored)."""
        return cls(
            spacy_model=str(params.get("spacy_model", cls.spacy_model)),
            lowercase=bool(params.get("lowercase", cls.lowercase)),
        )


def load_tokenizer(spacy_model: str = "blank:en") -> Any:
    """The tokenizer of ``blank:<lang>`` or of an installed spaCy model (its pipes unused)."""
    if spacy_model not in _TOKENIZERS:
        import spacy  # noqa: PLC0415 - heavy; only needed where tokenizing happens

        if spacy_model.startswith(BLANK_PREFIX):
            nlp = spacy.blank(spacy_model[len(BLANK_PREFIX) :])
        else:
            try:
                nlp = spacy.load(spacy_model, exclude=["*"])
            except OSError as error:
                raise ValueError(
                    f"tokenization.spacy_model: cannot load spaCy model {spacy_model!r}; "
                    f"install it or use 'blank:en'"
                ) from error
        _TOKENIZERS[spacy_model] = nlp.tokenizer
    return _TOKENIZERS[spacy_model]


def clean_text(text: str) -> str:
    """Replace HTML line breaks (``<br />``, ``<br>``, ``<br/>``) with a space."""
    return pc.replace_substring_regex(pa.array([text]), BREAK_TAG, " ")[0].as_py()


def _tokenize_pieces(
    pieces: Sequence[str], config: TokenizerConfig
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Tokenize space-free pieces: (distinct token strings, index into them, tokens per piece).

    Pieces are joined with newlines into a few long texts, which spaCy tokenizes exactly as it
    tokenizes each piece alone; token character offsets tell which piece a token is from.
    Token hashes become strings once per distinct token; whitespace-only tokens are dropped
    and lowercasing applied on those distinct strings.
    """
    tokenizer = load_tokenizer(config.spacy_model)
    strings = tokenizer.vocab.strings
    hashes, owners = [], []
    for start in range(0, len(pieces), PIECES_PER_DOC):
        batch = pieces[start : start + PIECES_PER_DOC]
        lengths = np.fromiter((len(p) + 1 for p in batch), dtype=np.int64, count=len(batch))
        starts = np.cumsum(lengths) - lengths
        array = tokenizer(PIECE_SEPARATOR.join(batch)).to_array(["ORTH", "IDX"])
        hashes.append(array[:, 0])
        owners.append(start + np.searchsorted(starts, array[:, 1].astype(np.int64), "right") - 1)
    flat = np.concatenate(hashes) if hashes else np.zeros(0, dtype=np.uint64)
    owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
    indices, unique_hashes = pd.factorize(flat)  # hashing: ~5x faster than np.unique here
    uniques = [strings[int(h)] for h in unique_hashes]
    blank = np.fromiter((not u or u.isspace() for u in uniques), dtype=bool, count=len(uniques))
    keep = ~blank[indices]
    counts = np.bincount(owner[keep], minlength=len(pieces)).astype(np.int64)
    if config.lowercase:
        uniques = [u.lower() for u in uniques]
    return uniques, indices[keep].astype(np.int32), counts


def _pool_chunk(
    task: tuple[list[str], TokenizerConfig],
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Worker side: tokenize one chunk of pieces (the pool's initializer loaded the tokenizer)."""
    pieces, config = task
    return _tokenize_pieces(pieces, config)


def _worker_pool(n_workers: int, spacy_model: str) -> Any:
    """``n_workers`` tokenizer processes forked from a small server process, not from this one.

    A process forked from this one would map all of its memory (in a Kedro run: torch, MLflow,
    the batch at hand), which its RSS counts again; the forkserver holds only this module and
    spaCy, and each worker loads the tokenizer once.
    """
    context = mp.get_context("forkserver")
    context.set_forkserver_preload([__name__, "spacy"])
    return context.Pool(n_workers, initializer=_start_worker, initargs=(spacy_model,))


def _start_worker(spacy_model: str) -> None:
    """Pool initializer: the worker ends on SIGTERM, and loads the tokenizer once.

    The pool's exit terminates its workers with SIGTERM. A host process may ignore SIGTERM in
    its children (Airflow 3's task runner does); a worker inheriting that would never end, and
    the pool's exit would wait for it forever.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    load_tokenizer(spacy_model)


class PieceTokenizer:
    """Tokenizes batches of texts, keeping the tokens of the distinct pieces it has seen.

    Each batch is split at spaces; its distinct pieces that are not yet known go to spaCy (in
    ``n_workers`` forked processes, ``chunk_size`` pieces per task), and every piece's tokens are
    kept, so that later batches only tokenize pieces new to them. At most ``max_cached_pieces``
    pieces are kept: beyond that the least used half is forgotten (they are tokenized again if
    they come back), so memory stays bounded however many batches pass. What is kept changes
    only the speed, never the tokens. Use it as a context manager: the worker pool starts when
    a batch first needs it and stops on exit.
    """

    def __init__(
        self,
        config: TokenizerConfig | None = None,
        n_workers: int = 1,
        chunk_size: int = 20_000,
        max_cached_pieces: int = DEFAULT_MAX_CACHED_PIECES,
    ) -> None:
        if n_workers < 1 or chunk_size < 1 or max_cached_pieces < 1:
            raise ValueError(
                "tokenization: n_workers, chunk_size and max_cached_pieces must be >= 1, got "
                f"{n_workers}, {chunk_size}, {max_cached_pieces}"
            )
        self.config = config or TokenizerConfig()
        self.n_workers = n_workers
        self.chunk_size = chunk_size
        self.max_cached_pieces = max_cached_pieces
        self._pieces = pa.array([], pa.large_string())  # the pieces whose tokens are kept
        self._tokens = pa.array([], pa.list_(pa.string()))  # their tokens, row for row
        self._uses = np.zeros(0, dtype=np.int64)  # occurrences of each kept piece so far
        self._pool: Any = None
        self.pieces_tokenized = 0  # pieces sent to spaCy, all batches together

    def __enter__(self) -> PieceTokenizer:
        load_tokenizer(self.config.spacy_model)  # here first: a bad model name fails here
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    @property
    def cached_pieces(self) -> int:
        """Distinct pieces whose tokens are kept now."""
        return len(self._pieces)

    def tokenize(self, texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> pa.ListArray:
        """Row ``i`` of the result is the token list of ``texts[i]``."""
        cleaned = pc.replace_substring_regex(_as_text_array(texts), BREAK_TAG, " ")
        pieces = pc.split_pattern(cleaned, " ")  # per text: its space-separated pieces
        del cleaned
        piece_offsets = np.asarray(pieces.offsets, dtype=np.int64) - pieces.offsets[0].as_py()
        encoded = pc.dictionary_encode(pieces.flatten())  # every piece → its distinct piece
        del pieces
        kept = self._kept_rows(encoded.dictionary)
        per_piece = self._tokens.take(pa.array(kept))  # tokens of each distinct piece
        uses = np.bincount(np.asarray(encoded.indices), minlength=len(kept))
        self._uses[kept] += uses  # distinct pieces have distinct rows
        total = int(np.dot(np.asarray(per_piece.value_lengths(), dtype=np.int64), uses))
        if total >= 2**31:
            raise ValueError(f"tokenization: {total} tokens exceed one Arrow list array")
        per_occurrence = per_piece.take(encoded.indices)
        token_offsets = np.asarray(per_occurrence.offsets)[piece_offsets]
        lists = pa.ListArray.from_arrays(pa.array(token_offsets), per_occurrence.flatten())
        self._forget_least_used()
        return lists

    def _kept_rows(self, distinct: pa.Array) -> np.ndarray:
        """The row of each distinct piece among the kept ones, tokenizing and adding new ones."""
        if len(self._pieces):
            found = pc.index_in(distinct, value_set=self._pieces)
            new = np.asarray(found.is_null())
            rows = np.asarray(found.fill_null(-1), dtype=np.int64)
        else:
            new = np.ones(len(distinct), dtype=bool)
            rows = np.full(len(distinct), -1, dtype=np.int64)
        if new.any():
            added = distinct.filter(pa.array(new))
            rows[new] = len(self._pieces) + np.arange(len(added))
            self._pieces = pa.concat_arrays([self._pieces, added])
            self._tokens = pa.concat_arrays([self._tokens, self._tokenize_new(added)])
            self._uses = np.concatenate([self._uses, np.zeros(len(added), dtype=np.int64)])
        return rows

    def _tokenize_new(self, pieces: pa.Array) -> pa.ListArray:
        """The token lists of ``pieces`` (none of them known yet), from spaCy."""
        values = pieces.to_pylist()
        self.pieces_tokenized += len(values)
        chunks = [values[s : s + self.chunk_size] for s in range(0, len(values), self.chunk_size)]
        parts = []
        for uniques, codes, counts in self._map(chunks):
            offsets = np.zeros(len(counts) + 1, dtype=np.int32)
            np.cumsum(counts, out=offsets[1:])
            tokens = pa.array(uniques, type=pa.string()).take(pa.array(codes))
            parts.append(pa.ListArray.from_arrays(pa.array(offsets), tokens))
        return pa.concat_arrays(parts) if parts else pa.array([], pa.list_(pa.string()))

    def _map(self, chunks: list[list[str]]) -> Iterator[tuple[list[str], np.ndarray, np.ndarray]]:
        """``_tokenize_pieces`` of every chunk, in order: in the pool when there are several."""
        if len(chunks) > 1 and self.n_workers > 1 and self._pool is None:
            if mp.current_process().daemon:
                logger.warning("Tokenizing in one process: a daemonic process cannot start workers")
                self.n_workers = 1
            else:
                self._pool = _worker_pool(self.n_workers, self.config.spacy_model)
        if len(chunks) > 1 and self._pool is not None:
            yield from self._pool.imap(_pool_chunk, [(chunk, self.config) for chunk in chunks])
        else:
            for chunk in chunks:
                yield _tokenize_pieces(chunk, self.config)

    def _forget_least_used(self) -> None:
        """Keep the most used half of the pieces once more than ``max_cached_pieces`` are kept."""
        if len(self._pieces) <= self.max_cached_pieces:
            return
        keep = np.sort(np.argsort(-self._uses, kind="stable")[: self.max_cached_pieces // 2])
        self._pieces = self._pieces.take(pa.array(keep))
        self._tokens = self._tokens.take(pa.array(keep))
        self._uses = self._uses[keep]
        logger.info("Tokenizer: kept the %d most used distinct pieces", len(keep))


def _as_text_array(texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> pa.Array:
    """The texts as one Arrow string array; a missing or non-string text names its row."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not isinstance(texts, pa.Array):
        try:
            texts = pa.array(texts, type=pa.large_string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            bad = next((row for row, text in enumerate(texts) if not isinstance(text, str)), "?")
            raise TypeError(f"tokenization: text at row {bad} is not a string") from error
        except UnicodeEncodeError as error:
            raise _not_unicode(texts) from error
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        raise TypeError(f"tokenization: texts must be strings, got Arrow type {texts.type}")
    if texts.null_count:
        row = int(np.flatnonzero(np.asarray(texts.is_null()))[0])
        raise TypeError(f"tokenization: text at row {row} is missing (null), not a string")
    return texts.cast(pa.large_string())


def _not_unicode(texts: Sequence[str]) -> ValueError:
    """The error for texts of which one holds a lone surrogate (UTF-8 cannot encode it)."""
    for row, text in enumerate(texts):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as bad:
            return ValueError(
                f"tokenization: the text at row {row} is not valid Unicode: character "
                f"{bad.start} is a lone surrogate {text[bad.start]!r} (text starting "
                f"{text[:40]!r}); decode the source with errors='replace' or fix it"
            )
    return ValueError("tokenization: a text is not valid Unicode")


def tokenize_to_arrow(
    texts: Sequence[str] | pa.Array | pa.ChunkedArray,
    config: TokenizerConfig | None = None,
    n_workers: int = 1,
    chunk_size: int = 20_000,
) -> pa.ListArray:
    """Tokenize every text; row ``i`` of the result is the token list of ``texts[i]``.

    ``n_workers`` > 1 starts that many processes, each tokenizing contiguous chunks of
    ``chunk_size`` distinct space-separated pieces; the result is the same as with one.
    """
    with PieceTokenizer(config, n_workers, chunk_size) as tokenizer:
        return tokenizer.tokenize(texts)


TOKENS_SCHEMA = pa.schema(
    [("id", pa.int64()), ("label", pa.int64()), ("tokens", pa.list_(pa.string()))]
)


def tokenize_review_batches(  # noqa: PLR0917 - the tokenization settings, spelled out
    reviews: Batches,
    config: TokenizerConfig,
    n_workers: int = 1,
    chunk_size: int = 20_000,
    max_cached_pieces: int = DEFAULT_MAX_CACHED_PIECES,
    name: str = "reviews",
) -> Batches:
    """Review batches (``id``, ``text``, ``label``) as token batches (``id``, ``label``,
    ``tokens``).

    Lazy: each iteration tokenizes batch after batch with one :class:`PieceTokenizer`, so the
    distinct pieces of the whole table are tokenized about once while a batch at a time is
    held. A missing text is an error naming ``name``, its row and its id.
    """

    def make() -> Iterator[pa.RecordBatch]:
        started, row, n_tokens = time.perf_counter(), 0, 0
        with PieceTokenizer(config, n_workers, chunk_size, max_cached_pieces) as tokenizer:
            for batch in reviews:
                texts = batch.column("text")
                if texts.null_count:
                    bad = int(np.flatnonzero(np.asarray(texts.is_null()))[0])
                    raise TypeError(
                        f"{name}: column 'text' row {row + bad} (id {batch.column('id')[bad]}) "
                        "is missing (null), not a string"
                    )
                tokens = tokenizer.tokenize(texts)
                n_tokens += len(tokens.values)
                row += batch.num_rows
                yield pa.record_batch(
                    [
                        batch.column("id").cast(pa.int64()),
                        batch.column("label").cast(pa.int64()),
                        tokens,
                    ],
                    schema=TOKENS_SCHEMA,
                )
            seconds = time.perf_counter() - started
            logger.info(
                "Tokenized %d %s: %d tokens in %.1f s (%.0f tokens/s); spaCy tokenized %d "
                "distinct pieces, %d kept at the end",
                row,
                name,
                n_tokens,
                seconds,
                n_tokens / max(seconds, 1e-9),
                tokenizer.pieces_tokenized,
                tokenizer.cached_pieces,
            )

    return Batches(TOKENS_SCHEMA, make, num_rows=reviews.num_rows)


def tokenize(
    texts: Sequence[str],
    config: TokenizerConfig | None = None,
    n_workers: int = 1,
    chunk_size: int = 20_000,
) -> list[list[str]]:
    """Like :func:`tokenize_to_arrow`, as Python lists (small inputs, serving, tests)."""
    return tokenize_to_arrow(texts, config, n_workers, chunk_size).to_pylist()
