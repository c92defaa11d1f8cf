"""benchmarks/corpus_scaling.py: the table it writes into a README, between its markers only."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import corpus_scaling  # noqa: E402

GIB = corpus_scaling.GIB


def _run(reviews: int, wall_s: float, rss_gib: float) -> dict:
    return {
        "reviews": reviews,
        "wall_s": wall_s,
        "cpu_s": wall_s * 1.5,
        "peak_tree_rss_bytes": rss_gib * GIB,
        "peak_tree_pss_bytes": rss_gib * GIB / 2,
        "load_average_before": (9.0, 8.0, 7.0),
        "load_average_after": (11.0, 9.0, 8.0),
        "nodes": {"tokenize_train_reviews": {"seconds": wall_s / 3}, "encode_test": {"seconds": 1}},
    }


def test_table_lands_between_the_markers_with_date_machine_and_command(tmp_path: Path) -> None:
    result = {
        "date": "2026-11-27",
        "machine": "vm: 2 CPUs, x86_64",
        "command": "python benchmarks/corpus_scaling.py --sizes 50000 200000",
        "commit": "abc1234",
        "runs": [_run(50_000, 100.0, 1.5), _run(200_000, 380.0, 1.75)],
    }
    readme = tmp_path / "README.md"
    start, end = corpus_scaling.MARKERS
    readme.write_text(f"# before\n\n{start}\nold table\n{end}\n\nafter\n")
    corpus_scaling.write_readme(result, readme)
    text = readme.read_text()
    assert text.startswith("# before\n\n") and text.endswith(f"{end}\n\nafter\n")
    assert "old table" not in text
    measured = "Measured 2026-11-27 on vm: 2 CPUs, x86_64 with `python benchmarks/corpus_scaling.py"
    assert measured in text
    assert "(commit abc1234)" in text
    rows = [line for line in text.splitlines() if line.startswith("| 50,000") or "200,000" in line]
    assert rows[0].startswith("| 50,000 | 100.0 | 1.00 | 1.50 GiB | 0.75 GiB | 150 (1.00) |")
    assert rows[1].startswith("| 200,000 | 380.0 | 3.80 | 1.75 GiB | 0.88 GiB | 570 (3.80) |")
    assert "tokenize_train_reviews 126.7 s | 9.0 / 11.0 |" in rows[1]
