"""Features pipeline: train tokens → vocabulary → embedding matrix; every split → ids."""

from kedro.pipeline import Node, Pipeline

from imdb_sentiment.pipelines import SPLITS, for_split

from .nodes import build_embedding_matrix, build_vocabulary, encode_split


def create_pipeline(**kwargs) -> Pipeline:
    """Vocabulary from the training split only; GloVe rows aligned to it; splits encoded."""
    return Pipeline(
        [
            Node(
                build_vocabulary,
                inputs=["train_tokens", "params:features", "params:tokenization"],
                outputs="vocabulary",
                name="build_vocabulary",
            ),
            Node(
                build_embedding_matrix,
                inputs=["vocabulary", "glove_vectors", "train_tokens", "params:features"],
                outputs=["embedding_matrix", "glove_coverage"],
                name="build_embedding_matrix",
            ),
            *(
                Node(
                    for_split(encode_split, split),
                    inputs=[f"{split}_tokens", "vocabulary"],
                    outputs=f"{split}_ids",
                    name=f"encode_{split}",
                )
                for split in SPLITS
            ),
        ]
    )
