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
