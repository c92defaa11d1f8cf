"""IMDB sentiment: raw reviews to a trained, evaluated and served model (a BiLSTM or a CNN over
GloVe embeddings), as a Kedro project."""

import os

# torch's OpenMP threads busy-wait (spin) for their next piece of work by default. Beside another
# process doing the same on a machine with few cores, the spinning threads starve each other and
# an LSTM step becomes 10-100x slower. Waiting passively avoids it (benchmarks/busy_cpu.py
# measures both). libgomp reads this once, when torch loads it, so it is set here, before any
# module of this package imports torch; a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

# Usage telemetry off, before any of these libraries is imported: `kedro run` imports this
# package (for its settings) before MLflow, whose telemetry client starts at `import mlflow`
# (it would resolve its host and write ~/.config/mlflow/telemetry.json on every run). An
# explicit setting in the environment wins, e.g. MLFLOW_DISABLE_TELEMETRY=false opts back in.
TELEMETRY_SWITCHES = {
    "MLFLOW_DISABLE_TELEMETRY": "true",  # MLflow 3's usage telemetry
    "HF_HUB_DISABLE_TELEMETRY": "1",  # Hugging Face Hub's, on downloads from the hub
    "KEDRO_DISABLE_TELEMETRY": "1",  # Kedro's (also refused in .telemetry)
    "RAY_USAGE_STATS_ENABLED": "0",  # Ray's usage stats, of a Ray started to train on
}
for _name, _value in TELEMETRY_SWITCHES.items():
    os.environ.setdefault(_name, _value)
