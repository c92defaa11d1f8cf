"""IMDB sentiment: raw reviews to a trained, evaluated and served BiLSTM, as a Kedro project."""

import os

__version__ = "0.1.0"

# Usage telemetry off, before any of these libraries is imported: `kedro run` imports this
# package (for its settings) before MLflow, whose telemetry client starts at `import mlflow`
# (it would resolve its host and write ~/.config/mlflow/telemetry.json on every run). An
# explicit setting in the environment wins, e.g. MLFLOW_DISABLE_TELEMETRY=false opts back in.
TELEMETRY_SWITCHES = {
    "MLFLOW_DISABLE_TELEMETRY": "true",  # MLflow 3's usage telemetry
    "HF_HUB_DISABLE_TELEMETRY": "1",  # Hugging Face Hub's, on downloads from the hub
    "KEDRO_DISABLE_TELEMETRY": "1",  # Kedro's (also refused in .telemetry)
}
for _name, _value in TELEMETRY_SWITCHES.items():
    os.environ.setdefault(_name, _value)
