"""encoder/cache.py: the training examples' embeddings kept between trainings (the Rasa side's use of it, with the
real encoders, is checked by tests/rasa_side/check_sentence_encoder.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from encoder.cache import DEFAULT_PATH, EmbeddingCache, configured_path


class CountingEncoder:
    """A deterministic encoder that records what it was asked to encode."""

    def __init__(self, identity: str = "fake:1", dimensions: int = 4) -> None:
        self.identity, self.dimensions = identity, dimensions
        self.calls: list[list[str]] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([[len(t), t.count("o"), hash(self.identity) % 7, 1.0][: self.dimensions] for t in texts],
                        dtype=np.float32)  # fmt: skip


def test_vectors_come_back_in_order_and_each_text_is_encoded_once(tmp_path: Path) -> None:
    cache, encoder = EmbeddingCache(tmp_path / "c.sqlite3"), CountingEncoder()
    texts = ["where is my order", "hi", "where is my order", "bye"]
    vectors = cache.encode(encoder, texts)
    assert encoder.calls == [["where is my order", "hi", "bye"]]
    assert np.array_equal(vectors, encoder.encode(texts))
    assert (cache.hits, cache.misses) == (0, 3)


def test_a_second_training_encodes_only_new_texts_even_in_another_process(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    EmbeddingCache(path).encode(CountingEncoder(), ["a", "bb", "ccc"])
    encoder, cache = CountingEncoder(), EmbeddingCache(path)  # a new connection: what the file holds
    vectors = cache.encode(encoder, ["ccc", "dddd", "a"])
    assert encoder.calls == [["dddd"]]
    assert np.array_equal(vectors, CountingEncoder().encode(["ccc", "dddd", "a"]))
    assert (cache.hits, cache.misses) == (2, 1)


def test_another_encoder_or_other_weights_never_read_the_vectors(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    EmbeddingCache(path).encode(CountingEncoder("minilm:aaaa"), ["hello"])
    other = CountingEncoder("minilm:bbbb")
    EmbeddingCache(path).encode(other, ["hello"])
    assert other.calls == [["hello"]]


def test_a_stored_vector_of_the_wrong_size_is_encoded_again(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    EmbeddingCache(path).encode(CountingEncoder("x:1", dimensions=3), ["hello"])
    wider = CountingEncoder("x:1", dimensions=4)
    vectors = EmbeddingCache(path).encode(wider, ["hello"])
    assert wider.calls == [["hello"]] and vectors.shape == (1, 4)


def test_many_texts_cross_the_lookup_chunks(tmp_path: Path) -> None:
    texts = [f"example {i}" for i in range(1234)]
    EmbeddingCache(tmp_path / "c.sqlite3").encode(CountingEncoder(), texts[:1000])
    encoder = CountingEncoder()
    vectors = EmbeddingCache(tmp_path / "c.sqlite3").encode(encoder, texts)
    assert encoder.calls == [texts[1000:]]
    assert np.array_equal(vectors, CountingEncoder().encode(texts))


@pytest.mark.parametrize(
    ("setting", "expected"), [(None, DEFAULT_PATH), ("off", None), ("OFF", None), ("/tmp/e.db", Path("/tmp/e.db"))]
)
def test_the_cache_is_where_the_environment_says(monkeypatch: pytest.MonkeyPatch, setting: str | None,
                                                 expected: Path | None) -> None:  # fmt: skip
    if setting is None:
        monkeypatch.delenv("HEARTH_EMBEDDING_CACHE", raising=False)
    else:
        monkeypatch.setenv("HEARTH_EMBEDDING_CACHE", setting)
    assert configured_path() == expected
