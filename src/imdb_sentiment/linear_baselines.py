"""Linear baselines on the neural model's own tokens: TF-IDF + logistic regression, and NBSVM.

They read the same ``{split}_tokens`` as the neural model (spaCy, ``<br />`` removed, the
configured lowercasing), so a comparison measures the model, not the preprocessing. Each is fitted
on the train split, its settings chosen by accuracy on the validation split only (the first best
in grid order), and its probabilities calibrated on validation the way the neural model's are (a
temperature on its decision scores: :mod:`imdb_sentiment.calibration`). Test is never read here.

* ``tfidf_lr``: TF-IDF of word n-grams (``min_df``, smoothed idf, optionally sublinear tf, L2
  rows: scikit-learn's ``TfidfVectorizer``) and an L2 logistic regression (liblinear); C and
  sublinear tf chosen on validation.
* ``nbsvm``: NBSVM (Wang & Manning, 2012): binarized n-gram counts scaled by the log-count ratio
  ``r = log((p / |p|_1) / (q / |q|_1))`` (smoothing ``alpha``), an L2 squared-hinge linear SVM,
  and the interpolation ``w' = (1 - beta) * mean|w| + beta * w``; C and beta chosen on
  validation.

A fitted baseline is a :class:`LinearBaseline`: its n-gram terms, per-term feature weights (idf
or ``r``), coefficients, bias and temperature, plain arrays that :meth:`LinearBaseline.to_arrays`
stores without pickling (``datasets.linear_baseline``). Deterministic (liblinear, seeded).
N-grams are made and counted with Arrow (:func:`ngrams`), not scikit-learn's Python-level
vectorizers (ten times slower here); scikit-learn fits the classifiers.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from imdb_sentiment.calibration import fit_temperature, sigmoid
from imdb_sentiment.dict_settings import DictSettings, SettingsError

logger = logging.getLogger(__name__)

FORMAT = "imdb-sentiment-linear-baseline/1"
SOLVER_SEED = 0  # liblinear shuffles its coordinates; a fixed seed makes fits repeatable

TokenLists = Sequence[Sequence[str]] | pa.ListArray | pa.ChunkedArray


def _check_ngrams(key: str, ngram_range: Sequence[int]) -> tuple[int, int]:
    if len(ngram_range) != 2 or not 1 <= ngram_range[0] <= ngram_range[1]:
        raise SettingsError(key, f"must be [low, high] with 1 <= low <= high, got {ngram_range}")
    return int(ngram_range[0]), int(ngram_range[1])


def _check_grid(key: str, values: Sequence[Any], positive: bool = True) -> None:
    if not values:
        raise SettingsError(key, "must list at least one value")
    if positive and any(not value > 0 for value in values):
        raise SettingsError(key, f"must hold values > 0, got {list(values)}")


@dataclass
class TfidfLRSettings(DictSettings):
    """``baselines.tfidf_lr``: the features and the grid chosen on validation."""

    ngram_range: list[int] = field(default_factory=lambda: [1, 2])
    min_df: int = 2  # an n-gram must occur in this many train reviews
    sublinear_tf: list[bool] = field(default_factory=lambda: [True, False])  # grid
    C: list[float] = field(default_factory=lambda: [1.0, 4.0, 16.0, 64.0, 256.0])  # grid
    max_iter: int = 1000

    def __post_init__(self) -> None:
        _check_ngrams("ngram_range", self.ngram_range)
        if self.min_df < 1:
            raise SettingsError("min_df", f"must be >= 1, got {self.min_df}")
        _check_grid("sublinear_tf", self.sublinear_tf, positive=False)
        _check_grid("C", self.C)


@dataclass
class NBSVMSettings(DictSettings):
    """``baselines.nbsvm``: the features and the grid chosen on validation."""

    ngram_range: list[int] = field(default_factory=lambda: [1, 2])
    alpha: float = 1.0  # smoothing of the log-count ratio
    C: list[float] = field(default_factory=lambda: [0.01, 0.03, 0.1, 0.3, 1.0])  # grid
    beta: list[float] = field(default_factory=lambda: [0.25, 0.5, 0.75, 1.0])  # grid
    max_iter: int = 5000

    def __post_init__(self) -> None:
        _check_ngrams("ngram_range", self.ngram_range)
        if not self.alpha > 0:
            raise SettingsError("alpha", f"must be > 0, got {self.alpha}")
        _check_grid("C", self.C)
        _check_grid("beta", self.beta)
        if any(not 0 <= beta <= 1 for beta in self.beta):
            raise SettingsError("beta", f"must hold values in [0, 1], got {self.beta}")


@dataclass
class LinearBaseline:
    """A fitted linear text classifier over word n-grams of token lists.

    Features of a review: n-gram counts (``binary``: 0/1), ``1 + log(count)`` when
    ``sublinear_tf``, times ``feature_weights`` (idf, or NBSVM's ``r``), rows L2-normalised when
    ``l2_normalize``. Score: ``features @ coef + intercept``; probability of positive:
    ``sigmoid(score / temperature)``.
    """

    name: str
    terms: pa.Array  # the n-grams (strings) in feature order; a bigram is "word word"
    ngram_range: tuple[int, int]
    binary: bool
    sublinear_tf: bool
    l2_normalize: bool
    feature_weights: np.ndarray
    coef: np.ndarray
    intercept: float
    temperature: float = 1.0
    chosen: dict[str, Any] = field(default_factory=dict)  # the settings validation picked
    selection: list[dict[str, Any]] = field(default_factory=list)  # every grid point's accuracy

    def __post_init__(self) -> None:
        self.ngram_range = (int(self.ngram_range[0]), int(self.ngram_range[1]))
        if not isinstance(self.terms, pa.Array):
            self.terms = pa.array(list(self.terms), type=pa.large_string())
        self.terms = self.terms.cast(pa.large_string())
        self.feature_weights = np.asarray(self.feature_weights, dtype=np.float64).reshape(-1)
        self.coef = np.asarray(self.coef, dtype=np.float64).reshape(-1)
        n = len(self.terms)
        if len(self.feature_weights) != n or len(self.coef) != n:
            raise ValueError(
                f"linear baseline {self.name}: {n} terms but {len(self.feature_weights)} feature "
                f"weights and {len(self.coef)} coefficients"
            )

    @property
    def valid_accuracy(self) -> float | None:
        return self.chosen.get("valid_accuracy")

    def features(self, tokens: TokenLists) -> sparse.csr_matrix:
        """The feature rows of token lists (n-grams outside the train vocabulary are ignored)."""
        counts = count_ngrams(tokens, self.ngram_range, self.terms)
        return _weighted(
            counts, self.binary, self.sublinear_tf, self.feature_weights, self.l2_normalize
        )

    def decision_function(self, tokens: TokenLists) -> np.ndarray:
        """The linear score of every review (positive above 0)."""
        return np.asarray(self.features(tokens) @ self.coef + self.intercept, dtype=np.float64)

    def predict_proba(self, tokens: TokenLists) -> np.ndarray:
        """Calibrated probabilities of positive."""
        return sigmoid(self.decision_function(tokens) / self.temperature)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain numeric arrays (terms as UTF-8 bytes and offsets, settings as JSON bytes)."""
        _, offsets, data = self.terms.buffers()
        offsets = np.frombuffer(offsets, dtype=np.int64)[
            self.terms.offset : self.terms.offset + len(self.terms) + 1
        ]
        meta = {
            "format": FORMAT,
            "name": self.name,
            "ngram_range": list(self.ngram_range),
            "binary": self.binary,
            "sublinear_tf": self.sublinear_tf,
            "l2_normalize": self.l2_normalize,
            "intercept": self.intercept,
            "temperature": self.temperature,
            "chosen": self.chosen,
            "selection": self.selection,
        }
        return {
            "terms_utf8": np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]],
            "terms_offsets": offsets - offsets[0],
            "feature_weights": self.feature_weights,
            "coef": self.coef,
            "meta_json": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], where: str) -> LinearBaseline:
        """Read :meth:`to_arrays`' form; a missing or bad part names ``where``."""
        missing = sorted(
            {"terms_utf8", "terms_offsets", "feature_weights", "coef", "meta_json"} - set(arrays)
        )
        if missing:
            raise ValueError(f"{where}: not a linear baseline (missing {missing})")
        meta = json.loads(bytes(arrays["meta_json"]).decode("utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{where}: format {meta.get('format')!r}, expected {FORMAT!r}")
        offsets = np.asarray(arrays["terms_offsets"], dtype=np.int64)
        blob = np.asarray(arrays["terms_utf8"], dtype=np.uint8)
        if len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(blob):
            raise ValueError(f"{where}: the term offsets do not match the term bytes")
        terms = pa.LargeStringArray.from_buffers(
            len(offsets) - 1, pa.py_buffer(offsets.tobytes()), pa.py_buffer(blob.tobytes())
        )
        terms.validate(full=True)  # offsets in order, UTF-8 valid
        return cls(
            name=meta["name"],
            terms=terms,
            ngram_range=tuple(meta["ngram_range"]),
            binary=bool(meta["binary"]),
            sublinear_tf=bool(meta["sublinear_tf"]),
            l2_normalize=bool(meta["l2_normalize"]),
            feature_weights=arrays["feature_weights"],
            coef=arrays["coef"],
            intercept=float(meta["intercept"]),
            temperature=float(meta["temperature"]),
            chosen=meta["chosen"],
            selection=meta["selection"],
        )


def _as_lists(tokens: TokenLists) -> pa.ListArray:
    """Token lists as one Arrow list array of strings (whatever form they come in)."""
    if isinstance(tokens, pa.ChunkedArray):
        tokens = tokens.combine_chunks()
    if not isinstance(tokens, pa.Array):
        tokens = pa.array([list(review) for review in tokens], type=pa.list_(pa.large_string()))
    return tokens


def ngrams(tokens: TokenLists, ngram_range: tuple[int, int]) -> tuple[pa.Array, np.ndarray]:
    """Every word n-gram of every review (``"w1 w2"`` for a bigram), and its review's row.

    Arrow gathers and joins, no Python loop over tokens: the 6M tokens of IMDB's train split
    give their 12M uni- and bigrams in about a second.
    """
    lists = _as_lists(tokens)
    flat = lists.flatten().cast(pa.large_string())
    offsets = np.asarray(lists.offsets, dtype=np.int64)
    offsets = offsets - offsets[0]
    row_of_token = np.repeat(np.arange(len(lists), dtype=np.int64), np.diff(offsets))
    review_end = offsets[1:][row_of_token]
    positions = np.arange(len(flat), dtype=np.int64)
    strings, rows = [], []
    for n in range(ngram_range[0], ngram_range[1] + 1):
        starts = positions[positions + n <= review_end]
        parts = [flat.take(pa.array(starts + k)) for k in range(n)]
        strings.append(
            parts[0]
            if n == 1
            else pc.binary_join_element_wise(*parts, pa.scalar(" ", pa.large_string()))
        )
        rows.append(row_of_token[starts])
    return pa.concat_arrays(strings), np.concatenate(rows)


def _count_matrix(
    rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int]
) -> sparse.csr_matrix:
    """How often each (review, term) pair occurs, as a CSR matrix (duplicates summed)."""
    data = np.ones(len(rows), dtype=np.float64)
    matrix = sparse.csr_matrix((data, (rows, columns)), shape=shape)
    matrix.sum_duplicates()
    return matrix


def count_ngrams(
    tokens: TokenLists, ngram_range: tuple[int, int], terms: pa.Array
) -> sparse.csr_matrix:
    """Counts of ``terms`` (n-grams) in each review; other n-grams are ignored."""
    lists = _as_lists(tokens)
    strings, rows = ngrams(lists, ngram_range)
    columns = pc.index_in(strings, value_set=terms)
    known = np.asarray(columns.is_valid())
    columns = np.asarray(columns.drop_null(), dtype=np.int64)
    return _count_matrix(rows[known], columns, (len(lists), len(terms)))


def learn_ngrams(
    tokens: TokenLists, ngram_range: tuple[int, int], min_df: int = 1
) -> tuple[pa.Array, sparse.csr_matrix]:
    """The n-grams found in at least ``min_df`` reviews (in order of first appearance), and
    their counts in each review."""
    lists = _as_lists(tokens)
    strings, rows = ngrams(lists, ngram_range)
    encoded = pc.dictionary_encode(strings)
    counts = _count_matrix(
        rows,
        np.asarray(encoded.indices, dtype=np.int64),
        (len(lists), len(encoded.dictionary)),
    )
    document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    keep = np.flatnonzero(document_frequency >= min_df)
    return encoded.dictionary.take(pa.array(keep)), counts[:, keep].tocsr()


def smooth_idf(counts: sparse.csr_matrix) -> np.ndarray:
    """``ln((1 + n) / (1 + df)) + 1``: scikit-learn's TfidfTransformer(smooth_idf=True)."""
    document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    return np.log((1.0 + counts.shape[0]) / (1.0 + document_frequency)) + 1.0


def _weighted(
    counts: sparse.spmatrix,
    binary: bool,
    sublinear_tf: bool,
    weights: np.ndarray,
    l2_normalize: bool,
) -> sparse.csr_matrix:
    """Counts turned into features: binarized or ``1 + log(count)``, weighted, L2 rows."""
    x = sparse.csr_matrix(counts, dtype=np.float64, copy=True)
    if binary:
        x.data[:] = 1.0
    elif sublinear_tf:
        np.log(x.data, out=x.data)
        x.data += 1.0
    x = sparse.csr_matrix(x @ sparse.diags(weights))
    if l2_normalize:
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        x = sparse.csr_matrix(sparse.diags(1.0 / norms) @ x)
    return x


def _accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean((scores > 0) == (labels == 1)))


def fit_tfidf_lr(
    train: tuple[TokenLists, np.ndarray],
    valid: tuple[TokenLists, np.ndarray],
    settings: TfidfLRSettings,
) -> LinearBaseline:
    """TF-IDF n-grams + logistic regression on ``train``; C and sublinear tf chosen on ``valid``.

    ``train`` and ``valid`` are (token lists, 0/1 labels).
    """
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    ngram_range = _check_ngrams("baselines.tfidf_lr.ngram_range", settings.ngram_range)
    y_train, y_valid = np.asarray(train[1]), np.asarray(valid[1])
    started = time.perf_counter()
    terms, train_counts = learn_ngrams(train[0], ngram_range, settings.min_df)
    valid_counts = count_ngrams(valid[0], ngram_range, terms)
    idf = smooth_idf(train_counts)
    selection: list[dict[str, Any]] = []
    best: tuple[float, dict[str, Any]] | None = None
    for sublinear in settings.sublinear_tf:
        x_train = _weighted(train_counts, False, bool(sublinear), idf, True)
        x_valid = _weighted(valid_counts, False, bool(sublinear), idf, True)
        for c in settings.C:
            model = LogisticRegression(
                C=float(c),
                solver="liblinear",
                dual=True,  # far more n-grams than reviews: the dual is 5-10x faster here
                max_iter=settings.max_iter,
                random_state=SOLVER_SEED,
            ).fit(x_train, y_train)
            chosen = {"sublinear_tf": bool(sublinear), "C": float(c)}
            best = _keep_best(
                best,
                selection,
                _accuracy(model.decision_function(x_valid), y_valid),
                chosen,
                sublinear_tf=bool(sublinear),
                coef=model.coef_.ravel(),
                intercept=float(model.intercept_[0]),
            )
    fields = {"terms": terms, "ngram_range": ngram_range, "feature_weights": idf}
    model = LinearBaseline(name="tfidf_lr", binary=False, l2_normalize=True, **fields, **best[1])
    return _finish(model, best[0], selection, valid[0], y_valid, started=started)


def log_count_ratio(x: sparse.spmatrix, labels: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Wang & Manning's ``r`` of binarized features ``x`` and 0/1 ``labels``."""
    x = sparse.csr_matrix(x)
    labels = np.asarray(labels)
    p = alpha + np.asarray(x[labels == 1].sum(axis=0)).ravel()
    q = alpha + np.asarray(x[labels == 0].sum(axis=0)).ravel()
    return np.log((p / p.sum()) / (q / q.sum()))


def fit_nbsvm(
    train: tuple[TokenLists, np.ndarray],
    valid: tuple[TokenLists, np.ndarray],
    settings: NBSVMSettings,
) -> LinearBaseline:
    """NBSVM on ``train``; C and beta chosen on ``valid``."""
    from sklearn.svm import LinearSVC  # noqa: PLC0415

    ngram_range = _check_ngrams("baselines.nbsvm.ngram_range", settings.ngram_range)
    y_train, y_valid = np.asarray(train[1]), np.asarray(valid[1])
    started = time.perf_counter()
    terms, train_counts = learn_ngrams(train[0], ngram_range)
    ones = np.ones(len(terms))
    ratio = log_count_ratio(
        _weighted(train_counts, True, False, ones, False), y_train, settings.alpha
    )
    x_train = _weighted(train_counts, True, False, ratio, False)
    x_valid = _weighted(count_ngrams(valid[0], ngram_range, terms), True, False, ratio, False)
    selection: list[dict[str, Any]] = []
    best: tuple[float, dict[str, Any]] | None = None
    for c in settings.C:
        svm = LinearSVC(C=float(c), max_iter=settings.max_iter, random_state=SOLVER_SEED)
        svm.fit(x_train, y_train)
        w, b = svm.coef_.ravel(), float(svm.intercept_[0])
        for beta in settings.beta:
            interpolated = (1.0 - beta) * np.abs(w).mean() + beta * w
            best = _keep_best(
                best,
                selection,
                _accuracy(x_valid @ interpolated + b, y_valid),
                {"C": float(c), "beta": float(beta)},
                coef=interpolated,
                intercept=b,
            )
    fields = {"terms": terms, "ngram_range": ngram_range, "feature_weights": ratio}
    model = LinearBaseline(
        name="nbsvm", binary=True, sublinear_tf=False, l2_normalize=False, **fields, **best[1]
    )
    return _finish(model, best[0], selection, valid[0], y_valid, started=started)


def _keep_best(
    best: tuple[float, dict[str, Any]] | None,
    selection: list[dict[str, Any]],
    accuracy: float,
    chosen: dict[str, Any],
    **fields: Any,
) -> tuple[float, dict[str, Any]]:
    """Record a grid point's validation accuracy; keep it if it is the first best so far."""
    selection.append({**chosen, "valid": accuracy})
    if best is None or accuracy > best[0]:
        return accuracy, {**fields, "chosen": chosen}
    return best


def _finish(
    model: LinearBaseline,
    accuracy: float,
    selection: list[dict[str, Any]],
    valid_tokens: TokenLists,
    y_valid: np.ndarray,
    *,
    started: float,
) -> LinearBaseline:
    """The chosen model, its temperature fitted on validation, and what the choice saw."""
    model.temperature = fit_temperature(model.decision_function(valid_tokens), y_valid)
    model.selection = selection
    model.chosen = {
        **model.chosen,
        "valid_accuracy": accuracy,
        "features": len(model.terms),
        "fit_seconds": time.perf_counter() - started,
    }
    logger.info(
        "Baseline %s: %s chosen on validation (accuracy %.4f) from %d settings; %d features, "
        "temperature %.3f, %.1f s",
        model.name,
        {k: v for k, v in model.chosen.items() if k not in ("valid_accuracy", "features")},
        accuracy,
        len(selection),
        len(model.terms),
        model.temperature,
        model.chosen["fit_seconds"],
    )
    return model


# The baselines of the DAG: name -> (settings class, fit function).
BASELINES: dict[str, tuple[type[DictSettings], Callable[..., LinearBaseline]]] = {
    "tfidf_lr": (TfidfLRSettings, fit_tfidf_lr),
    "nbsvm": (NBSVMSettings, fit_nbsvm),
}
