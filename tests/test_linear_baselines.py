"""The linear baselines on real IMDB reviews (a slice of the bundled sample, spaCy tokens)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from kedro.io import DatasetError
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from imdb_sentiment.datasets.linear_baseline import LinearBaselineDataset
from imdb_sentiment.dict_settings import SettingsError
from imdb_sentiment.linear_baselines import (
    NBSVMSettings,
    TfidfLRSettings,
    count_ngrams,
    fit_nbsvm,
    fit_tfidf_lr,
    learn_ngrams,
    log_count_ratio,
    ngrams,
    smooth_idf,
)
from imdb_sentiment.parameters import BaselinesSettings
from imdb_sentiment.text import TokenizerConfig, tokenize_to_arrow

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "01_raw" / "imdb_sample" / "train.parquet"
SMALL_GRIDS = {
    "tfidf_lr": TfidfLRSettings(sublinear_tf=[True], C=[4.0, 16.0]),
    "nbsvm": NBSVMSettings(C=[0.1], beta=[0.5, 1.0]),
}


@pytest.fixture(scope="module")
def splits() -> dict[str, tuple[pa.ListArray, np.ndarray]]:
    """1,100 real sample reviews, shuffled once, as train / valid / test token lists."""
    table = pd.read_parquet(SAMPLE).sample(n=1100, random_state=0).reset_index(drop=True)
    tokens = tokenize_to_arrow(table["text"].tolist(), TokenizerConfig())
    labels = table["label"].to_numpy()
    bounds = {"train": (0, 700), "valid": (700, 850), "test": (850, 1100)}
    return {
        name: (tokens.slice(start, stop - start), labels[start:stop])
        for name, (start, stop) in bounds.items()
    }


def _sklearn(vectorizer_class, **settings):
    return vectorizer_class(
        tokenizer=lambda t: t,
        preprocessor=lambda t: t,
        token_pattern=None,
        lowercase=False,
        ngram_range=(1, 2),
        **settings,
    )


def test_ngrams_are_those_of_each_review() -> None:
    lists = pa.array([["a", "b", "c"], ["d"], [], ["e", "f"]], pa.list_(pa.string()))
    strings, rows = ngrams(lists, (1, 2))
    pairs = sorted(zip(rows.tolist(), strings.to_pylist(), strict=True))
    assert pairs == [
        (0, "a"), (0, "a b"), (0, "b"), (0, "b c"), (0, "c"),
        (1, "d"), (3, "e"), (3, "e f"), (3, "f"),
    ]  # fmt: skip


def test_features_match_scikit_learns_vectorizers(splits) -> None:
    train, valid = splits["train"][0], splits["valid"][0]
    terms, counts = learn_ngrams(train, (1, 2), min_df=2)
    reference = _sklearn(TfidfVectorizer, min_df=2, sublinear_tf=True).fit(train.to_pylist())
    assert sorted(terms.to_pylist()) == sorted(reference.vocabulary_)
    order = [reference.vocabulary_[term] for term in terms.to_pylist()]
    np.testing.assert_allclose(smooth_idf(counts), reference.idf_[order])
    from imdb_sentiment.linear_baselines import LinearBaseline  # noqa: PLC0415

    model = LinearBaseline(
        name="tfidf_lr",
        terms=terms,
        ngram_range=(1, 2),
        binary=False,
        sublinear_tf=True,
        l2_normalize=True,
        feature_weights=smooth_idf(counts),
        coef=np.zeros(len(terms)),
        intercept=0.0,
    )
    ours = model.features(valid).toarray()
    theirs = reference.transform(valid.to_pylist())[:, order].toarray()
    np.testing.assert_allclose(ours, theirs, atol=1e-12)
    binary = _sklearn(CountVectorizer, binary=True).fit(train.to_pylist())
    terms_all, _ = learn_ngrams(train, (1, 2))
    order = [binary.vocabulary_[term] for term in terms_all.to_pylist()]
    ours = count_ngrams(valid, (1, 2), terms_all).minimum(1).toarray()
    np.testing.assert_array_equal(ours, binary.transform(valid.to_pylist())[:, order].toarray())


def test_log_count_ratio_by_hand() -> None:
    x = np.array([[1, 0], [1, 1], [0, 1]], dtype=float)
    y = np.array([1, 1, 0])
    p = 1 + np.array([2, 1])  # positives: feature counts + alpha
    q = 1 + np.array([0, 1])
    expected = np.log((p / p.sum()) / (q / q.sum()))
    np.testing.assert_allclose(log_count_ratio(x, y), expected)


@pytest.mark.parametrize("name", ["tfidf_lr", "nbsvm"])
def test_each_baseline_learns_is_chosen_on_validation_and_is_repeatable(splits, name) -> None:
    fit = {"tfidf_lr": fit_tfidf_lr, "nbsvm": fit_nbsvm}[name]
    model = fit(splits["train"], splits["valid"], SMALL_GRIDS[name])
    again = fit(splits["train"], splits["valid"], SMALL_GRIDS[name])
    np.testing.assert_array_equal(model.coef, again.coef)
    assert len(model.selection) == 2
    best = max(point["valid"] for point in model.selection)
    assert model.chosen["valid_accuracy"] == best
    tokens, labels = splits["test"]
    probabilities = model.predict_proba(tokens)
    accuracy = np.mean((probabilities >= 0.5) == (labels == 1))
    assert accuracy > 0.75  # 700 real training reviews: well above chance
    assert model.temperature > 0
    # the temperature is fitted on validation: there it is at least as good as none
    valid_tokens, valid_labels = splits["valid"]
    scores = model.decision_function(valid_tokens)
    from imdb_sentiment.calibration import sigmoid  # noqa: PLC0415
    from imdb_sentiment.evaluation import log_loss  # noqa: PLC0415

    assert log_loss(valid_labels, sigmoid(scores / model.temperature)) <= log_loss(
        valid_labels, sigmoid(scores)
    )


def test_a_fitted_baseline_round_trips_without_pickle(splits, tmp_path: Path) -> None:
    model = fit_nbsvm(splits["train"], splits["valid"], SMALL_GRIDS["nbsvm"])
    dataset = LinearBaselineDataset(filepath=str(tmp_path / "nbsvm_baseline.npz"))
    dataset.save(model)
    with np.load(tmp_path / "nbsvm_baseline.npz", allow_pickle=False) as arrays:
        assert all(array.dtype != object for array in arrays.values())
    loaded = dataset.load()
    assert loaded.terms.equals(model.terms) and loaded.chosen == model.chosen
    tokens = splits["test"][0]
    np.testing.assert_array_equal(loaded.predict_proba(tokens), model.predict_proba(tokens))
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="broken.npz: not a linear baseline file"):
        LinearBaselineDataset(filepath=str(tmp_path / "broken.npz")).load()
    with pytest.raises(DatasetError, match="kedro run --pipeline=baselines"):
        LinearBaselineDataset(filepath=str(tmp_path / "missing.npz")).load()


def test_settings_are_checked_with_their_key() -> None:
    with pytest.raises(SettingsError, match=r"baselines.tfidf_lr.C: must hold values > 0"):
        BaselinesSettings.from_dict({"tfidf_lr": {"C": [1.0, 0.0]}}, "baselines")
    with pytest.raises(SettingsError, match=r"baselines.nbsvm.beta: must hold values in \[0, 1\]"):
        BaselinesSettings.from_dict({"nbsvm": {"beta": [1.5]}}, "baselines")
    with pytest.raises(SettingsError, match=r"baselines.nbsvm.ngram_range: must be \[low, high\]"):
        BaselinesSettings.from_dict({"nbsvm": {"ngram_range": [2, 1]}}, "baselines")
    with pytest.raises(SettingsError, match=r"baselines.tfidf_lr.min_dfs: unknown setting"):
        BaselinesSettings.from_dict({"tfidf_lr": {"min_dfs": 2}}, "baselines")
