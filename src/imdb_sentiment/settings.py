"""Project settings."""

from kedro.config import OmegaConfigLoader

from imdb_sentiment.hooks import MlflowRunHooks

HOOKS = (MlflowRunHooks(),)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
}
