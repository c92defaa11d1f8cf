"""IMDB sentiment: raw reviews to a trained, evaluated and served model (a BiLSTM or a CNN over
GloVe embeddings), as a Kedro project."""

__version__ = "0.1.0"
