"""The `team` environment's MLflow settings, as Kedro merges them over base's.

The run against a real team server is tests/e2e/test_team_mlflow.py; these check, in seconds, what
that environment resolves to and that it never falls back to a store on the client's disk.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro_mlflow.config.kedro_mlflow_config import KedroMlflowConfig
from mlflow.exceptions import MlflowException

from imdb_sentiment.settings import CONFIG_LOADER_ARGS
from tests.conftest import PROJECT_ROOT
from tests.e2e.kedro_runs import inside


def mlflow_config(env: str) -> KedroMlflowConfig:
    """``mlflow.yml`` of ``env`` over base's, loaded with the project's settings."""
    arguments = dict(CONFIG_LOADER_ARGS)
    patterns = {
        **arguments.pop("config_patterns", {}),
        "mlflow": ["mlflow*", "mlflow*/**", "**/mlflow*"],  # as kedro-mlflow adds it
    }
    loader = OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"), env=env, config_patterns=patterns, **arguments
    )
    return KedroMlflowConfig.model_validate(loader["mlflow"])


def test_team_tracks_on_the_server_named_by_mlflow_tracking_uri() -> None:
    team, base = mlflow_config("team"), mlflow_config("base")
    # null: kedro-mlflow takes MLflow's own MLFLOW_TRACKING_URI
    assert team.server.mlflow_tracking_uri is None
    assert team.server.mlflow_registry_uri is None
    # the server decides where artifacts go; base's would be a folder on the client
    assert base.tracking.experiment.create_experiment_kwargs.artifact_location == "mlartifacts"
    assert team.tracking.experiment.create_experiment_kwargs.artifact_location is None
    # everything else as in base
    assert team.tracking.experiment.name == base.tracking.experiment.name
    assert team.tracking.run == base.tracking.run
    assert team.tracking.params == base.tracking.params
    assert team.tracking.disable_tracking == base.tracking.disable_tracking
    assert team.ui == base.ui


def test_team_without_a_server_stops_at_start_up(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No MLFLOW_TRACKING_URI: an error before any node runs, never runs logged on the client."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    with inside(project_copy):
        bootstrap_project(project_copy)
        with (
            pytest.raises(MlflowException, match="filesystem tracking backend"),
            KedroSession.create(project_path=project_copy, env="team") as session,
        ):
            session.load_context()
    assert not (project_copy / "mlruns").exists()
    assert not (project_copy / "mlflow.db").exists()
