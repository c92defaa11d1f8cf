"""Project pipelines."""

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

# Run only when asked (`kedro run --pipelines=predict`): scoring new reviews is not a step of
# making the model.
ON_DEMAND = ("predict",)


def register_pipelines() -> dict[str, Pipeline]:
    """Every pipeline under ``pipelines/``; ``__default__`` runs all but the on-demand ones."""
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(
        pipeline for name, pipeline in pipelines.items() if name not in ON_DEMAND
    )
    return pipelines
