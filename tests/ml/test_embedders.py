"""Embedders: the scikit-learn contract, unit-norm float32 output, the fallback factory."""

import importlib.util
import logging
import subprocess
import sys
import warnings

import numpy as np
import pytest

from ml.embedders import (
    HashingEmbedder,
    MiniLMEmbedder,
    OnnxMiniLMEmbedder,
    TfidfEmbedder,
    l2_normalise,
    make_embedder,
    minilm_unavailable,
)

TEXTS = [
    "Dark mode for the whole portal",
    "Please add a night theme",
    "Export the roadmap as CSV",
    "Download roadmap items as a spreadsheet",
    "Email me when an idea I voted for ships",
    "",
]


def test_l2_normalise_keeps_zero_rows():
    out = l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


def test_tfidf_contract_and_normalisation():
    embedder = TfidfEmbedder(n_components=4, random_state=3)
    assert (embedder.n_components, embedder.random_state) == (4, 3)
    assert not hasattr(embedder, "svd_")  # __init__ only stores parameters
    assert embedder.fit(TEXTS) is embedder
    vectors = embedder.transform(TEXTS[:5])
    assert vectors.dtype == np.float32 and vectors.shape == (5, 4)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert embedder.name.startswith("tfidf-lsa4-")


def test_tfidf_random_state_is_honoured():
    first = TfidfEmbedder(n_components=3, random_state=7).fit_transform(TEXTS)
    again = TfidfEmbedder(n_components=3, random_state=7).fit_transform(TEXTS)
    np.testing.assert_array_equal(first, again)


def test_tfidf_name_changes_with_the_corpus():
    one = TfidfEmbedder(n_components=3).fit(TEXTS)
    other = TfidfEmbedder(n_components=3).fit(TEXTS[::-1] + ["Vote by email"])
    assert one.name != other.name


def test_tfidf_refuses_to_transform_or_name_before_fit():
    with pytest.raises(ValueError):
        TfidfEmbedder().transform(["x"])
    with pytest.raises(AttributeError):
        _ = TfidfEmbedder().name


def test_tfidf_tiny_corpus_shrinks_the_dimensions():
    vectors = TfidfEmbedder(n_components=128).fit_transform(["one idea", "another idea"])
    assert vectors.shape == (2, 1)


def test_hashing_is_fit_free_stable_and_normalised():
    embedder = HashingEmbedder()
    assert embedder.fit(TEXTS) is embedder and embedder.name == "hashing-v1"
    vectors = embedder.transform(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (6, 4096)
    np.testing.assert_allclose(np.linalg.norm(vectors[:5], axis=1), 1.0, rtol=1e-5)
    # the same text gives the same vector in any batch, with or without a "fit" on other texts
    again = HashingEmbedder().fit(["something else entirely"]).transform(TEXTS[2:3])
    np.testing.assert_array_equal(vectors[2:3], again)
    sims = vectors @ vectors.T
    assert sims[2, 3] > sims[2, 0]  # both about the roadmap
    assert HashingEmbedder(n_features=512).name == "hashing-v1-512"
    assert HashingEmbedder().transform([]).shape == (0, 4096)


def test_make_embedder_names_and_unknowns():
    assert isinstance(make_embedder("tfidf"), TfidfEmbedder)
    assert isinstance(make_embedder("hashing"), HashingEmbedder)
    with pytest.raises(ValueError):
        make_embedder("word2vec")


def test_make_embedder_falls_back_with_one_log_line(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if not installed
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    with caplog.at_level(logging.WARNING, logger="ml.embedders"):
        embedder = make_embedder("minilm")
    assert isinstance(embedder, HashingEmbedder)  # fit-free: a live portal can use it
    assert len(caplog.records) == 1 and "hashing" in caplog.records[0].getMessage()


def test_minilm_missing_package_gives_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(ImportError, match="ideas-portal\\[embeddings\\]"):
        MiniLMEmbedder().fit()


def test_minilm_backend():
    pytest.importorskip("sentence_transformers")
    try:
        embedder = make_embedder("minilm")
    except ImportError:
        pytest.skip("the MiniLM model package is not installed")
    assert isinstance(embedder, MiniLMEmbedder) and embedder.name == "all-MiniLM-L6-v2"
    assert embedder.batch_size == 32 and not hasattr(embedder, "model_")
    with warnings.catch_warnings():
        # torch/transformers may warn about their own internals while loading
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)
        assert embedder.fit() is embedder
        vectors = embedder.transform(TEXTS[:4])
    assert vectors.dtype == np.float32 and vectors.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] and sims[2, 3] > sims[2, 1]  # near-duplicates are nearest


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory):
    """A cache dir with the ONNX model, exported once for this module (some seconds)."""
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the onnx backend)")
    missing = minilm_unavailable()  # the model package and torch, which the export needs
    if missing:
        pytest.skip(f"the ONNX model cannot be exported here: {missing}")
    cache = tmp_path_factory.mktemp("onnx")
    OnnxMiniLMEmbedder(cache_dir=cache).export()
    return cache


def test_onnx_vectors_are_close_to_torch_ones(onnx_dir):
    embedder = OnnxMiniLMEmbedder(cache_dir=onnx_dir)
    assert embedder.name == "all-MiniLM-L6-v2-onnx-int8" != MiniLMEmbedder().name
    assert not hasattr(embedder, "session_")  # __init__ only stores parameters
    assert embedder.fit() is embedder
    texts = [*TEXTS, "Single sign-on with our company's Azure AD " * 40]  # past max_seq_length
    vectors = embedder.transform(texts)
    assert vectors.dtype == np.float32 and vectors.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)
        reference = MiniLMEmbedder().transform(texts)
    cosines = np.sum(vectors * reference, axis=1)
    assert cosines.min() > 0.98, cosines
    # rows come back in the order given (batches are sorted by length inside), alone or not. Not
    # identical: int8 dynamic quantisation scales activations per batch, so a text's vector moves
    # a little with its batch-mates (0.98-1.0 seen on two CPUs); a row out of order would be ~0.2.
    alone = np.vstack([embedder.transform([text]) for text in texts])
    assert np.sum(vectors * alone, axis=1).min() > 0.97
    assert embedder.transform([]).shape == (0, 384)


def test_onnx_runs_without_torch(onnx_dir):
    """Once exported, the model loads and embeds with onnxruntime and tokenizers alone."""
    code = (
        "import sys; from ml.embedders import make_embedder; "
        f"embedder = make_embedder('onnx', cache_dir={str(onnx_dir)!r}); "
        "assert embedder.transform(['Dark mode']).shape == (1, 384); "
        "assert not {'torch', 'transformers', 'sentence_transformers'} & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_onnx_without_its_file_or_torch_says_what_is_missing(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the onnx backend)")
    monkeypatch.setitem(sys.modules, "torch", None)  # as if not installed
    with pytest.raises(ImportError, match="onnx-int8.onnx is missing and .*torch"):
        OnnxMiniLMEmbedder(cache_dir=tmp_path, model_path=str(tmp_path)).fit()


def test_onnx_falls_back_to_torch_with_one_log_line(monkeypatch, caplog):
    pytest.importorskip("sentence_transformers")
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == "onnxruntime" else real_find_spec(name, *args)

    monkeypatch.setattr("importlib.util.find_spec", find_spec)
    with caplog.at_level(logging.WARNING, logger="ml.embedders"):
        embedder = make_embedder("onnx")
    if not isinstance(embedder, MiniLMEmbedder):
        pytest.skip("the MiniLM model package is not installed")
    assert len(caplog.records) == 1 and "onnxruntime" in caplog.records[0].getMessage()
