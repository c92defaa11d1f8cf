"""Project settings."""

from kedro.config import OmegaConfigLoader

from imdb_sentiment.hooks import MlflowRunHooks, ParameterCheckHooks

# Parameter checks first: they refuse a bad configuration before the MLflow hooks name a run.
HOOKS = (ParameterCheckHooks(), MlflowRunHooks())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # an environment states only what differs from conf/base: nested keys merge
    "merge_strategy": {"parameters": "soft", "catalog": "soft"},
}
