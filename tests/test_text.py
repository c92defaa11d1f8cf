"""The spaCy tokenizer and its parallel driver, with real spaCy."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pyarrow as pa
import pytest

from imdb_sentiment.text import (
    BREAK_TAG,
    TokenizerConfig,
    clean_text,
    load_tokenizer,
    tokenize,
    tokenize_to_arrow,
)

FRAGMENTS = [
    "This movie was GREAT!<br /><br />I'd watch it again.",
    "Worst. Film. Ever... Don't bother<br>(seriously).",
    "The U.S. release cut 10 minutes<br/>- a shame; it's 2.5 stars at best.",
    'She said "wow" -- and   meant it.\n\nNine/10.',
    "Café scenes were charming, the score (by Zimmer) wasn't.",
    "<BR />Starts with a break and ends with one<br />",
]


def _texts(n: int) -> list[str]:
    """``n`` reviews of varied length built from the fragments, deterministically."""
    return [
        " ".join(FRAGMENTS[(i + j) % len(FRAGMENTS)] for j in range(1 + i % 7)) for i in range(n)
    ]


def test_clean_text_replaces_every_break_form_with_a_space() -> None:
    assert clean_text("a<br />b<br>c<br/>d<BR />e<br   />f") == "a b c d e f"
    assert clean_text("no tags <b>here</b>") == "no tags <b>here</b>"


def test_tokenize_lowercases_splits_punctuation_and_drops_breaks() -> None:
    tokens = tokenize(["Hello, World!<br /><br />It's GREAT."])
    assert tokens == [["hello", ",", "world", "!", "it", "'s", "great", "."]]


def test_tokenize_keeps_case_when_asked() -> None:
    tokens = tokenize(["It's GREAT."], TokenizerConfig(lowercase=False))
    assert tokens == [["It", "'s", "GREAT", "."]]


def test_whitespace_only_tokens_are_dropped() -> None:
    tokens = tokenize(["a   b\n\nc \t d", "   ", ""])
    assert tokens == [["a", "b", "c", "d"], [], []]


def test_parallel_result_equals_serial_result() -> None:
    texts = _texts(150)
    serial = tokenize_to_arrow(texts, n_workers=1, chunk_size=1000)
    parallel = tokenize_to_arrow(texts, n_workers=2, chunk_size=7)
    assert parallel.equals(serial)
    assert len(serial) == 150
    assert serial.type == pa.list_(pa.string())
    # Chunking in-process does not change the result either.
    assert tokenize_to_arrow(texts, n_workers=1, chunk_size=11).equals(serial)


def test_more_workers_than_chunks_and_empty_input() -> None:
    texts = _texts(3)
    assert tokenize(texts, n_workers=2, chunk_size=100) == tokenize(texts)
    assert tokenize([], n_workers=2) == []


def test_same_token_lowercased_from_different_cases_in_one_chunk() -> None:
    assert tokenize(["The the THE"]) == [["the", "the", "the"]]


def test_non_string_text_names_its_row() -> None:
    with pytest.raises(TypeError, match="row 1"):
        tokenize(["fine", None])


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="n_workers"):
        tokenize(["x"], n_workers=0)
    with pytest.raises(ValueError, match="no_such_model"):
        tokenize(["x"], TokenizerConfig(spacy_model="no_such_model_xyz"))


def test_config_from_params_ignores_driver_keys() -> None:
    config = TokenizerConfig.from_params(
        {"spacy_model": "blank:en", "lowercase": False, "n_workers": 2, "chunk_size": 10}
    )
    assert config == TokenizerConfig(spacy_model="blank:en", lowercase=False)


def test_tokens_are_plain_spacy_tokens_without_whitespace() -> None:
    texts = _texts(60)
    tokenizer = load_tokenizer("blank:en")
    for lowercase in (True, False):
        expected = [
            [
                t.text.lower() if lowercase else t.text
                for t in tokenizer(re.sub(BREAK_TAG, " ", text))
                if not t.text.isspace()
            ]
            for text in texts
        ]
        assert tokenize(texts, TokenizerConfig(lowercase=lowercase), n_workers=2) == expected


def test_each_space_separated_piece_is_tokenized_as_spacy_does_it_alone() -> None:
    # Plain spaCy lets "foo'" change how "''villain" is split; the driver does not.
    tokenizer = load_tokenizer("blank:en")
    text = "foo' ''villain talkin' 'bout :)) it"
    assert [t.text for t in tokenizer(text)][:5] == ["foo", "'", "'", "'", "villain"]
    alone = [t.text for piece in text.split(" ") for t in tokenizer(piece)]
    assert alone[:4] == ["foo", "'", "''", "villain"]
    for chunk_size in (1, 2, 100):
        result = tokenize([text, "''villain"], TokenizerConfig(lowercase=False), 2, chunk_size)
        assert result == [alone, ["''", "villain"]]


def test_arrow_input_and_missing_text() -> None:
    chunked = pa.chunked_array([["A film."], ["C<br>d"]])
    assert tokenize_to_arrow(chunked).to_pylist() == [["a", "film", "."], ["c", "d"]]
    with pytest.raises(TypeError, match="row 1 is missing"):
        tokenize_to_arrow(pa.array(["fine", None]))


# As under Airflow 3's task runner, whose SIGTERM handler does nothing in forked children.
_IGNORE_SIGTERM_IN_CHILDREN = """
import signal
from imdb_sentiment.text import tokenize

signal.signal(signal.SIGTERM, lambda signum, frame: None)
texts = [f"review {i} is quite good, isn't it? <br />yes." for i in range(200)]
for _ in range(20):
    assert tokenize(texts, n_workers=2, chunk_size=50)[0][:2] == ["review", "0"]
print("finished")
"""


def test_pool_ends_when_the_host_makes_forked_children_ignore_sigterm() -> None:
    """The pool's exit terminates its workers with SIGTERM; they must not inherit a handler that
    ignores it (without the fix this hangs within a few rounds)."""
    process = subprocess.Popen(
        [sys.executable, "-c", _IGNORE_SIGTERM_IN_CHILDREN],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the workers too can be killed as one group on a hang
    )
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail("tokenize hung: a pool worker ignored the SIGTERM of the pool's exit")
    assert process.returncode == 0, output
    assert "finished" in output


def test_a_lone_surrogate_names_its_row() -> None:
    with pytest.raises(ValueError, match=r"row 1 is not valid Unicode: character 4 is a lone"):
        tokenize_to_arrow(["fine", "bad \ud800 text", "fine too"])
