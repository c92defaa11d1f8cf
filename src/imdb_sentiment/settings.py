"""Project settings."""

from kedro.config import OmegaConfigLoader

from imdb_sentiment.hooks import MlflowRunHooks, ParameterCheckHooks
from imdb_sentiment.run_safety import (
    MlflowRunStateHooks,
    ProjectLockHooks,
    TrackingStoreErrorHooks,
)
from imdb_sentiment.third_party_noise import silence_third_party_noise

# Kedro imports this module before it loads pipelines or configuration: the filters apply to
# every command (run, viz, ipython, jupyter).
silence_third_party_noise()

HOOKS = (
    # parameter checks first: they refuse a bad configuration before the MLflow hooks name a run
    ParameterCheckHooks(),
    MlflowRunHooks(),
    # run safety (README, "Interrupted, killed and concurrent runs"): the project lock, runs of
    # killed processes closed, SIGTERM, store failures named
    ProjectLockHooks(),
    MlflowRunStateHooks(),
    TrackingStoreErrorHooks(),
)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # an environment states only what differs from conf/base: nested keys merge
    "merge_strategy": {"parameters": "soft", "catalog": "soft"},
}
