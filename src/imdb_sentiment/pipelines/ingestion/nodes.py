"""Checks on the raw IMDB tables, clean splits, and the stratified train / validation split.

Rows whose text is missing, not a string, or blank are dropped with a warning (the count and the
first ids); every other problem (a missing split or column, a label outside {0, 1}, a missing or
repeated id) is an error naming the split and the rows. The test table is checked the same way
and otherwise passed through untouched: it is never sampled, split or used to fit anything
(train is cleaned against it, never the other way round).
"""

from __future__ import annotations

import logging

import pandas as pd
from sklearn.model_selection import train_test_split

logger = logging.getLogger(__name__)

COLUMNS = ["id", "text", "label"]
LABELS = (0, 1)


def _first(ids: pd.Series, n: int = 5) -> str:
    """The first ``n`` ids of a selection, for messages."""
    return ", ".join(str(value) for value in ids.head(n).tolist())


def check_reviews(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """Return ``table`` checked and cleaned, in the columns ``id``, ``text``, ``label``.

    ``name`` (e.g. ``"train"``) is used in every message.
    """
    missing = [column for column in COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f"IMDB {name} table lacks column(s) {missing}; it has {list(table)}")
    table = table[COLUMNS].reset_index(drop=True)

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

    usable = table["text"].map(lambda text: isinstance(text, str) and bool(text.strip()))
    if not usable.all():
        dropped = table.loc[~usable, "id"]
        logger.warning(
            "IMDB %s table: dropped %d row(s) whose text is empty or not a string (ids %s)",
            name,
            len(dropped),
            _first(dropped),
        )
        table = table.loc[usable].reset_index(drop=True)

    return pd.DataFrame(
        {
            "id": table["id"].astype("int64"),
            "text": table["text"].astype(object),
            "label": table["label"].astype("int64"),
        }
    )


def validate_reviews(
    imdb_raw: dict[str, pd.DataFrame], clean_splits: bool
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
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
    train = check_reviews(imdb_raw["train"], "train")
    test = check_reviews(imdb_raw["test"], "test")
    published = len(train)

    in_test = train["text"].isin(set(test["text"]))
    repeated = train["text"].duplicated(keep="first") & ~in_test
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
    return train, test, cleaning


def split_train_valid(
    train: pd.DataFrame, valid_fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Carve a stratified, seeded validation set out of ``train``.

    Both parts keep the rows' original order, so the result depends only on the data, the
    fraction and the seed.
    """
    if not 0.0 < float(valid_fraction) < 1.0:
        raise ValueError(f"ingestion.valid_fraction must be in (0, 1), got {valid_fraction!r}")
    counts = train["label"].value_counts()
    if len(counts) < len(LABELS) or counts.min() < 2:
        raise ValueError(
            "Cannot stratify the validation split: train needs at least 2 reviews of each "
            f"label, it has {counts.to_dict()}"
        )
    try:
        train_index, valid_index = train_test_split(
            train.index.to_numpy(),
            test_size=float(valid_fraction),
            random_state=int(seed),
            stratify=train["label"].to_numpy(),
        )
    except ValueError as error:
        raise ValueError(
            f"Cannot split {len(train)} train reviews with ingestion.valid_fraction="
            f"{valid_fraction}: {error}"
        ) from error
    kept = train.loc[sorted(train_index)].reset_index(drop=True)
    valid = train.loc[sorted(valid_index)].reset_index(drop=True)
    logger.info(
        "IMDB: %d train / %d valid reviews (valid_fraction=%s, seed=%s)",
        len(kept),
        len(valid),
        valid_fraction,
        seed,
    )
    return kept, valid


def split_report(
    cleaning: dict[str, int],
    train: pd.DataFrame,
    valid: pd.DataFrame,
    test: pd.DataFrame,
) -> dict[str, int | bool]:
    """How many reviews each split has, what cleaning dropped, and what the splits still share.

    With clean splits nothing is shared; on the published split the report says how much is
    (texts of valid or test also in the kept train), with a warning.
    """
    train_texts = set(train["text"])
    report = {
        **cleaning,
        "train": len(train),
        "valid": len(valid),
        "test": len(test),
        "valid_in_train": int(valid["text"].isin(train_texts).sum()),
        "test_in_train": int(test["text"].isin(train_texts).sum()),
        "test_in_valid": int(test["text"].isin(set(valid["text"])).sum()),
    }
    shared = {key: report[key] for key in ("valid_in_train", "test_in_train", "test_in_valid")}
    if any(shared.values()):
        logger.warning("IMDB: the splits share review texts: %s", shared)
    return report
