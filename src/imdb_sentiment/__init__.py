"""IMDB sentiment: raw reviews to a trained, evaluated and served BiLSTM, as a Kedro project."""

__version__ = "0.1.0"
