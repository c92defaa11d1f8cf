"""Import boundaries: the torch-only modules run without the Kedro stack; nodes stay private."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "imdb_sentiment"
# What a GPU machine with only torch and numpy runs (training, evaluation, benchmarks).
TORCH_ONLY = (
    "sequences", "batching", "models", "training", "evaluation", "inference", "distributed",
)  # fmt: skip
ABSENT_THERE = (
    "kedro",
    "kedro_datasets",
    "kedro_mlflow",
    "mlflow",
    "spacy",
    "pandas",
    "pyarrow",
    "sklearn",
    "matplotlib",
    "datasets",
)

SCRIPT = """
import sys

BLOCKED = {blocked!r}
for name in BLOCKED:
    sys.modules[name] = None  # `import name` fails as if not installed; find_spec says None

import numpy as np
import importlib

for module in {modules!r}:
    importlib.import_module(f"imdb_sentiment.{{module}}")

from imdb_sentiment.models import REGISTRY, config_from_params
from imdb_sentiment.sequences import EncodedReviews
from imdb_sentiment.training import TrainConfig, train_model

rng = np.random.default_rng(0)
labels = rng.integers(0, 2, 40)
reviews = EncodedReviews.from_lists([[2 + int(y), 4, 5] for y in labels], labels)
for name in REGISTRY:
    config = config_from_params({{"type": name}}).for_data(
        vocab_size=6, embedding_dim=3, padding_idx=0
    )
    for epsilon in (0.0, 0.02):  # adversarial training off and on
        result = train_model(
            reviews, reviews, rng.normal(size=(6, 3)).astype("float32"), config,
            TrainConfig(epochs=1, batch_size=8, device="cpu", progress=False,
                        adversarial_epsilon=epsilon),
        )
        assert result.checkpoint["model_type"] == name
loaded = sorted({{m.split(".")[0] for m, v in sys.modules.items() if v is not None}} & BLOCKED)
assert not loaded, loaded
print("ok")
"""


def run_fresh(script: str) -> None:
    """``script`` in a fresh interpreter that sees only the project's source; it prints ok."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")},
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


def test_torch_only_modules_import_and_train_without_the_kedro_stack() -> None:
    run_fresh(SCRIPT.format(blocked=set(ABSENT_THERE), modules=TORCH_ONLY))


def _imports(path: Path) -> set[str]:
    """The modules a source file imports (absolute names; relative ones resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = (
        ".".join(path.relative_to(ROOT / "src").with_suffix("").parts[:-1])
        if (ROOT / "src" in path.parents)
        else ""
    )
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize(
    "path",
    [
        *sorted(p for p in PACKAGE.rglob("*.py") if "pipelines" not in p.parts),
        *sorted((ROOT / "benchmarks").glob("*.py")),
        *sorted((ROOT / "scripts").glob("*.py")),
    ],
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_only_pipelines_import_node_modules(path: Path) -> None:
    nodes = sorted(
        name
        for name in _imports(path)
        if name.startswith("imdb_sentiment.pipelines.") and ".nodes" in name
    )
    assert not nodes, f"{path.relative_to(ROOT)} imports {nodes}: move the code into the library"


def test_the_node_import_check_sees_node_imports(tmp_path: Path) -> None:
    probe = PACKAGE / "pipelines" / "features" / "pipeline.py"  # imports .nodes relatively
    assert "imdb_sentiment.pipelines.features.nodes" in _imports(probe)
