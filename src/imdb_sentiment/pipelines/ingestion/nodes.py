"""Checks on the raw IMDB tables, clean splits, and the stratified train / validation split.

Rows whose text is missing, not a string, or blank are dropped with a warning (the count and the
first ids); every other problem (a missing split or column, a label outside {0, 1}, a missing or
repeated id) is an error naming the split and the rows. The test table is checked the same way
and otherwise passed through untouched: it is never sampled, split or used to fit anything
(train is cleaned against it, never the other way round).

The tables come in and go out as :class:`~imdb_sentiment.batches.Batches` (small pandas frames
are taken too), so a corpus of any size passes through holding a batch at a time: the checks
run on a few facts per review (:func:`~imdb_sentiment.reviews.review_facts`: id, label, whether
the text is usable, a 128-bit key of the text), and the kept rows are copied lazily as the
outputs are written. Verbatim repeats (train in test, train in itself, what the splits share)
are found by those keys, never by holding the texts.
"""

from __future__ import annotations

import logging

import pandas as pd
from sklearn.model_selection import train_test_split

from imdb_sentiment.batches import Batches, as_batches
from imdb_sentiment.reviews import review_facts, select_reviews, text_keys

logger = logging.getLogger(__name__)

LABELS = (0, 1)


def _first(ids: pd.Series, n: int = 5) -> str:
    """The first ``n`` ids of a selection, for messages."""
    return ", ".join(str(value) for value in ids.head(n).tolist())


def check_reviews(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """Return the facts of the reviews to keep (``review_facts``' columns), checked.

    ``table`` is :func:`~imdb_sentiment.reviews.review_facts` of a reviews table; ``name``
    (e.g. ``"train"``) is used in every message.
    """
    if table["id"].isna().any():
        raise ValueError(f"IMDB {name} table: {int(table['id'].isna().sum())} row(s) have no id")
    repeated = table.loc[table["id"].duplicated(), "id"]
    if len(repeated):
        raise ValueError(
            f"IMDB {name} table: column 'id' repeats {len(repeated)} time(s), e.g. id "
            f"{_first(repeated)}"
        )

    label_ok = table["label"].isin(LABELS)
    if not label_ok.all():
        bad = table.loc[~label_ok]
        examples = ", ".join(
            f"id {row.id}: {row.label!r}" for row in bad.head(5).itertuples(index=False)
        )
        raise ValueError(
            f"IMDB {name} table: {len(bad)} label(s) outside {{0, 1}} in column 'label' "
            f"({examples})"
        )

    usable = table["usable"]
    if not usable.all():
        dropped = table.loc[~usable, "id"]
        logger.warning(
            "IMDB %s table: dropped %d row(s) whose text is empty or not a string (ids %s)",
            name,
            len(dropped),
            _first(dropped),
        )
        table = table.loc[usable].reset_index(drop=True)
    return table


def validate_reviews(
    imdb_raw: dict[str, Batches | pd.DataFrame], clean_splits: bool
) -> tuple[Batches, Batches, dict[str, int]]:
    """Check both raw tables and, with ``clean_splits``, clean train against test and itself.

    IMDB's train and test share a few reviews verbatim (123 in the full set), and train repeats
    some texts (96 repeats). Clean splits drop every train review whose text is in test (so no
    test review is trained or early-stopped on) and keep only the first of repeated train texts,
    before the validation split is carved out (so no validation review is also trained on).
    ``clean_splits=False`` keeps train as published; the counts are logged either way and
    returned for the split report.
    """
    for split in ("train", "test"):
        if split not in imdb_raw:
            raise ValueError(f"imdb_raw has no '{split}' table (has {sorted(imdb_raw)})")
    sources = {split: as_batches(imdb_raw[split]) for split in ("train", "test")}
    train = check_reviews(review_facts(sources["train"], "train"), "train")
    test = check_reviews(review_facts(sources["test"], "test"), "test")
    published = len(train)

    in_test = train["text_key"].isin(set(test["text_key"]))
    repeated = train["text_key"].duplicated(keep="first") & ~in_test
    action = "dropping them" if clean_splits else "keeping them (ingestion.clean_splits is false)"
    # dropping them is the configured default: reported at INFO; splits that share texts, WARNING
    level = logging.INFO if clean_splits else logging.WARNING
    if in_test.any():
        logger.log(
            level,
            "IMDB: %d train review(s) also appear verbatim in test (train ids %s); %s",
            int(in_test.sum()),
            _first(train.loc[in_test, "id"]),
            action,
        )
    if repeated.any():
        logger.log(
            level,
            "IMDB: %d train review(s) repeat the text of an earlier train review (train ids "
            "%s); %s",
            int(repeated.sum()),
            _first(train.loc[repeated, "id"]),
            action,
        )
    if clean_splits:
        train = train.loc[~(in_test | repeated)].reset_index(drop=True)
    cleaning = {
        "clean_splits": bool(clean_splits),
        "train_published": published,
        "train_in_test": int(in_test.sum()),
        "train_repeated": int(repeated.sum()),
        "train_dropped": published - len(train),
    }
    return (
        select_reviews(sources["train"], train["row"]),
        select_reviews(sources["test"], test["row"]),
        cleaning,
    )


def split_train_valid(
    train: Batches | pd.DataFrame, valid_fraction: float, seed: int
) -> tuple[Batches, Batches]:
    """Carve a stratified, seeded validation set out of ``train``.

    Both parts keep the rows' original order, so the result depends only on the data, the
    fraction and the seed. Only the labels are read here; the rows are copied as the two
    parts are written.
    """
    if not 0.0 < float(valid_fraction) < 1.0:
        raise ValueError(f"ingestion.valid_fraction must be in (0, 1), got {valid_fraction!r}")
    train = as_batches(train)
    labels = train.column("label").to_pandas()
    counts = labels.value_counts()
    if len(counts) < len(LABELS) or counts.min() < 2:
        raise ValueError(
            "Cannot stratify the validation split: train needs at least 2 reviews of each "
            f"label, it has {counts.to_dict()}"
        )
    try:
        train_index, valid_index = train_test_split(
            labels.index.to_numpy(),
            test_size=float(valid_fraction),
            random_state=int(seed),
            stratify=labels.to_numpy(),
        )
    except ValueError as error:
        raise ValueError(
            f"Cannot split {len(labels)} train reviews with ingestion.valid_fraction="
            f"{valid_fraction}: {error}"
        ) from error
    kept = select_reviews(train, sorted(train_index))
    valid = select_reviews(train, sorted(valid_index))
    logger.info(
        "IMDB: %d train / %d valid reviews (valid_fraction=%s, seed=%s)",
        len(train_index),
        len(valid_index),
        valid_fraction,
        seed,
    )
    return kept, valid


def split_report(
    cleaning: dict[str, int],
    train: Batches | pd.DataFrame,
    valid: Batches | pd.DataFrame,
    test: Batches | pd.DataFrame,
) -> dict[str, int | bool]:
    """How many reviews each split has, what cleaning dropped, and what the splits still share.

    With clean splits nothing is shared; on the published split the report says how much is
    (texts of valid or test also in the kept train), with a warning. The splits are compared
    by the keys of their texts, read a batch at a time.
    """
    train_keys, valid_keys, test_keys = (text_keys(as_batches(s)) for s in (train, valid, test))
    train_set = set(train_keys)
    report = {
        **cleaning,
        "train": len(train_keys),
        "valid": len(valid_keys),
        "test": len(test_keys),
        "valid_in_train": int(valid_keys.isin(train_set).sum()),
        "test_in_train": int(test_keys.isin(train_set).sum()),
        "test_in_valid": int(test_keys.isin(set(valid_keys)).sum()),
    }
    shared = {key: report[key] for key in ("valid_in_train", "test_in_train", "test_in_valid")}
    if any(shared.values()):
        logger.warning("IMDB: the splits share review texts: %s", shared)
    return report
