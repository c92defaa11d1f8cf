"""One trained copy of the project, shared by the end-to-end tests that read its outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import copy_project
from tests.e2e.kedro_runs import FAST_TRAINING, kedro_run


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy after one `kedro run` of every pipeline with a tiny, fast model."""
    project = copy_project(tmp_path_factory.mktemp("trained") / "project")
    kedro_run(project, runtime_params=FAST_TRAINING)
    return project
