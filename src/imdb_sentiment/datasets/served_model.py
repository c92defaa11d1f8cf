"""The served model's MLflow dataset: logged to run anywhere, registered, champion moved.

kedro-mlflow's ``MlflowModelTrackingDataset`` logs the pyfunc; this subclass adds what makes
the logged model usable outside this project and records it in the Model Registry:

- ``code_paths``: this package, so the model imports without the project installed;
- ``pip_requirements``: torch, spaCy, numpy, pandas, pyarrow, mlflow and cloudpickle pinned to
  the versions in use (MLflow's inference would list ``imdb-sentiment==0.1.0``, which no
  index has, and miss torch and spaCy);
- ``signature``: text in; probability and label out;
- a new version of ``registered_model_name`` per save, tagged with the model's best validation
  accuracy, the run's data source, git commit and run; the ``champion_alias`` moves to it only
  if it beats the champion (:mod:`imdb_sentiment.registry`).
"""

from __future__ import annotations

from typing import Any

import mlflow
from kedro_mlflow.io.models import MlflowModelTrackingDataset

from imdb_sentiment.models import checkpoint_config
from imdb_sentiment.registry import CHAMPION, MODEL_NAME, register_version
from imdb_sentiment.serving import (
    SIGNATURE,
    SentimentModel,
    package_directory,
    pip_requirements,
)

# Run tags (set by the project's hooks) copied onto the model version.
RUN_TAGS_ON_VERSION = ("data_source", "git_commit")


class ServedModelDataset(MlflowModelTrackingDataset):
    """Logs a :class:`~imdb_sentiment.serving.SentimentModel` with its code, pinned
    requirements and signature, then registers it (``registered_model_name`` None: not)."""

    def __init__(
        self,
        save_args: dict[str, Any] | None = None,
        load_args: dict[str, Any] | None = None,
        registered_model_name: str | None = MODEL_NAME,
        champion_alias: str = CHAMPION,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            flavor="mlflow.pyfunc",
            pyfunc_workflow="python_model",
            load_args=load_args,
            save_args=save_args,
            metadata=metadata,
        )
        self._registered_model_name = registered_model_name
        self._champion_alias = champion_alias
        self.registration = None

    def _save(self, model: SentimentModel) -> None:
        self._save_args.update(
            code_paths=[package_directory()],
            pip_requirements=pip_requirements(model.vocabulary),
            signature=SIGNATURE,
        )
        self._save_args.pop("infer_code_paths", None)
        super()._save(model)
        run = mlflow.active_run()
        if self.model_info is None or run is None or not self._registered_model_name:
            return  # tracking off: nothing logged, nothing to register
        checkpoint = model.checkpoint
        run_tags = mlflow.get_run(run.info.run_id).data.tags  # as the hooks set them since
        tags = {tag: run_tags.get(tag) for tag in RUN_TAGS_ON_VERSION}
        tags.update(
            run_id=run.info.run_id,
            run_name=run_tags.get("mlflow.runName"),
            model=checkpoint_config(checkpoint).describe(),
            best_epoch=checkpoint.get("best_epoch"),
        )
        self.registration = register_version(
            self.model_info.model_uri,
            float(checkpoint["best_valid_accuracy"]),
            tags,
            name=self._registered_model_name,
            alias=self._champion_alias,
        )
        mlflow.set_tags(
            {
                "registered_model_version": self.registration.version,
                "registered_as_champion": str(self.registration.promoted).lower(),
            }
        )
