"""Checks on the raw IMDB tables and the stratified train / validation split.

Rows whose text is missing, not a string, or blank are dropped with a warning (the count and the
first ids); every other problem (a missing split or column, a label outside {0, 1}, a missing or
repeated id) is an error naming the split and the rows. The test table is checked the same way
and otherwise passed through untouched: it is never sampled, split or used to fit anything.

The tables come in and go out as :class:`~imdb_sentiment.batches.Batches` (small pandas frames
are taken too), so a corpus of any size passes through holding a batch at a time: the checks
run on a few facts per review (:func:`~imdb_sentiment.reviews.review_facts`: id, label, whether
the text is usable, a 128-bit key of the text), and the kept rows are copied lazily as the
outputs are written.
"""

from __future__ import annotations

import logging

import pandas as pd
from sklearn.model_selection import train_test_split

from imdb_sentiment.batches import Batches, as_batches
from imdb_sentiment.reviews import review_facts, select_reviews

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
    imdb_raw: dict[str, Batches | pd.DataFrame], drop_test_overlap_from_train: bool
) -> tuple[Batches, Batches]:
    """Check both raw tables; report (and optionally drop) train reviews repeated in test.

    IMDB's train and test share a few reviews verbatim. They are kept by default, as in the
    published benchmark; ``drop_test_overlap_from_train`` removes them from train so that no
    test review is ever trained or early-stopped on.
    """
    for split in ("train", "test"):
        if split not in imdb_raw:
            raise ValueError(f"imdb_raw has no '{split}' table (has {sorted(imdb_raw)})")
    sources = {split: as_batches(imdb_raw[split]) for split in ("train", "test")}
    train = check_reviews(review_facts(sources["train"], "train"), "train")
    test = check_reviews(review_facts(sources["test"], "test"), "test")

    shared = train["text_key"].isin(set(test["text_key"]))
    if shared.any():
        action = "dropping them from train" if drop_test_overlap_from_train else "keeping them"
        logger.warning(
            "IMDB: %d train review(s) also appear verbatim in test (train ids %s); %s "
            "(parameter ingestion.drop_test_overlap_from_train)",
            int(shared.sum()),
            _first(train.loc[shared, "id"]),
            action,
        )
        if drop_test_overlap_from_train:
            train = train.loc[~shared].reset_index(drop=True)
    return (
        select_reviews(sources["train"], train["row"]),
        select_reviews(sources["test"], test["row"]),
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
