"""The spaCy tokenizer for reviews and a driver that runs it fast on many reviews.

spaCy's tokenizer cuts a text at spaces and tokenizes each space-separated piece on its own
(prefixes, suffixes, infixes, special cases; whitespace runs other than one space become
whitespace tokens). The driver uses that: it splits all reviews at spaces with Arrow,
keeps each distinct piece once (50,000 IMDB reviews: 11.6M pieces, 0.4M distinct), has spaCy
tokenize only the distinct pieces (in ``n_workers`` forked processes, in big contiguous
chunks) and then expands the result back to every review with Arrow/numpy gathers. spaCy's
own ``n_process`` is slower than one process for tokenizer-only work.

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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

logger = logging.getLogger(__name__)

BLANK_PREFIX = "blank:"
BREAK_TAG = r"(?i)<br\s*/?\s*>"  # <br />, <br>, <br/>, <BR />
PIECES_PER_DOC = 5000  # distinct pieces joined into one text for one tokenizer call
# Joins pieces: a whitespace token between them, so spaCy's special-case pass (which matches
# token sequences across single spaces) cannot tie one piece to the next.
PIECE_SEPARATOR = "\n"

# Tokenizers built in this process, by model name; forked workers inherit the parent's.
_TOKENIZERS: dict[str, Any] = {}
# What a forked pool works on; set by the parent just before forking, read by the workers.
_POOL_PIECES: Sequence[str] = ()
_POOL_CONFIG: TokenizerConfig | None = None


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


def _default_sigterm() -> None:
    """Pool initializer: a worker ends on SIGTERM, whatever handler it inherited.

    ``Pool.__exit__`` terminates its workers with SIGTERM. A host process may have installed a
    handler that ignores SIGTERM in forked children (Airflow 3's task runner does), and a worker
    inheriting it would never end: the pool's exit would wait for it forever.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _pool_chunk(bounds: tuple[int, int]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Worker side: tokenize a slice of the pieces inherited from the parent."""
    start, stop = bounds
    assert _POOL_CONFIG is not None
    return _tokenize_pieces(_POOL_PIECES[start:stop], _POOL_CONFIG)


def _chunk_results(
    pieces: Sequence[str], config: TokenizerConfig, n_workers: int, chunk_size: int
) -> Iterator[tuple[list[str], np.ndarray, np.ndarray]]:
    """Per-chunk results in order, from a forked pool or, for one worker, in-process."""
    global _POOL_PIECES, _POOL_CONFIG  # noqa: PLW0603 - handed to forked workers, then reset
    bounds = [(s, min(s + chunk_size, len(pieces))) for s in range(0, len(pieces), chunk_size)]
    if n_workers > 1 and mp.current_process().daemon:
        logger.warning("Tokenizing in one process: a daemonic process cannot start workers")
        n_workers = 1
    n_workers = min(n_workers, len(bounds))
    load_tokenizer(config.spacy_model)  # once here: forked workers inherit it
    if n_workers <= 1:
        for start, stop in bounds:
            yield _tokenize_pieces(pieces[start:stop], config)
        return
    _POOL_PIECES, _POOL_CONFIG = pieces, config
    try:
        with mp.get_context("fork").Pool(n_workers, initializer=_default_sigterm) as pool:
            yield from pool.imap(_pool_chunk, bounds)
    finally:
        _POOL_PIECES, _POOL_CONFIG = (), None


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

    ``n_workers`` > 1 forks that many processes, each tokenizing contiguous chunks of
    ``chunk_size`` distinct space-separated pieces; the result is the same as with one.
    """
    config = config or TokenizerConfig()
    if n_workers < 1 or chunk_size < 1:
        raise ValueError(
            f"tokenization: n_workers and chunk_size must be >= 1, got {n_workers}, {chunk_size}"
        )
    cleaned = pc.replace_substring_regex(_as_text_array(texts), BREAK_TAG, " ")
    pieces = pc.split_pattern(cleaned, " ")  # per text: its space-separated pieces
    del cleaned
    piece_offsets = np.asarray(pieces.offsets, dtype=np.int64) - pieces.offsets[0].as_py()
    encoded = pc.dictionary_encode(pieces.flatten())  # every piece → its distinct piece
    del pieces
    distinct = encoded.dictionary.to_pylist()

    strings: list[pa.Array] = []
    code_parts: list[np.ndarray] = []
    count_parts: list[np.ndarray] = []
    n_strings = 0
    for uniques, codes, counts in _chunk_results(distinct, config, n_workers, chunk_size):
        code_parts.append(codes + np.int32(n_strings))
        strings.append(pa.array(uniques, type=pa.string()))
        count_parts.append(counts)
        n_strings += len(uniques)
    token_strings = pa.concat_arrays(strings) if strings else pa.array([], pa.string())
    piece_codes = np.concatenate(code_parts) if code_parts else np.zeros(0, dtype=np.int32)
    piece_counts = np.concatenate(count_parts) if count_parts else np.zeros(0, dtype=np.int64)
    codes, token_offsets = _expand(piece_codes, piece_counts, encoded.indices, piece_offsets)
    values = token_strings.take(pa.array(codes))
    return pa.ListArray.from_arrays(pa.array(token_offsets), values)


def _expand(
    piece_codes: np.ndarray,
    piece_counts: np.ndarray,
    occurrences: pa.Array,
    piece_offsets: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Token codes of every piece occurrence in text order, and each text's token offsets.

    Distinct piece ``d`` has the next ``piece_counts[d]`` codes of ``piece_codes``;
    ``occurrences`` gives the distinct piece of every piece in text order and
    ``piece_offsets`` where each text's pieces start in it. One Arrow list gather.
    """
    uses = np.bincount(np.asarray(occurrences), minlength=len(piece_counts))
    total = int(np.dot(piece_counts.astype(np.int64), uses))
    if total >= 2**31:
        raise ValueError(f"tokenization: {total} tokens exceed one Arrow list array")
    starts = np.zeros(len(piece_counts) + 1, dtype=np.int32)
    np.cumsum(piece_counts, out=starts[1:])
    per_piece = pa.ListArray.from_arrays(pa.array(starts), pa.array(piece_codes))
    per_occurrence = per_piece.take(occurrences)
    token_offsets = np.asarray(per_occurrence.offsets)[piece_offsets]
    return np.asarray(per_occurrence.flatten()), token_offsets


def tokenize(
    texts: Sequence[str],
    config: TokenizerConfig | None = None,
    n_workers: int = 1,
    chunk_size: int = 20_000,
) -> list[list[str]]:
    """Like :func:`tokenize_to_arrow`, as Python lists (small inputs, serving, tests)."""
    return tokenize_to_arrow(texts, config, n_workers, chunk_size).to_pylist()
