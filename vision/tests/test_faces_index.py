"""MatrixIndex: exact top-k by cosine distance, add/remove/rebuild."""

from __future__ import annotations

import numpy as np
import pytest

from vision.faces.index import MatrixIndex, cosine_distance


def _unit(rows: np.ndarray) -> np.ndarray:
    unit: np.ndarray = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return unit


def test_search_equals_brute_force():
    # given 3,000 random vectors and 40 probes
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(3000, 128)).astype(np.float32)
    probes = rng.normal(size=(40, 128)).astype(np.float32)
    index = MatrixIndex[int](128, capacity=16)
    index.add(list(range(3000)), vectors)

    # when searched for the 7 nearest
    hits = index.search(probes, k=7)

    # then ids and distances equal a float64 full sort
    scores = _unit(probes.astype(np.float64)) @ _unit(vectors.astype(np.float64)).T
    expected = np.argsort(-scores, axis=1)[:, :7]
    assert [[i for i, _ in row] for row in hits] == expected.tolist()
    distances = np.array([[d for _, d in row] for row in hits])
    np.testing.assert_allclose(distances, 1 - np.take_along_axis(scores, expected, 1), atol=1e-5)


def test_identical_vector_has_distance_zero_and_k_is_capped():
    index = MatrixIndex[str](3)
    index.add(["a", "b"], [[1, 0, 0], [0, 2, 0]])

    hits = index.search([[3, 0, 0]], k=5)

    assert hits == [[("a", 0.0), ("b", 1.0)]]


def test_remove_and_rebuild():
    index = MatrixIndex[str](2)
    index.add(["a", "b", "c"], [[1, 0], [0, 1], [-1, 0]])

    assert index.remove(["a", "zzz"]) == 1
    assert len(index) == 2
    assert "a" not in index
    assert index.search([[1, 0.1]], k=1)[0][0][0] == "b"

    index.rebuild(["x"], [[1, 0]])
    assert index.ids == ["x"]
    assert index.search([[1, 0]], k=3) == [[("x", 0.0)]]


def test_duplicate_or_mismatched_ids_are_rejected():
    index = MatrixIndex[str](2)
    index.add(["a"], [[1, 0]])

    with pytest.raises(ValueError, match="already in the index"):
        index.add(["a"], [[0, 1]])
    with pytest.raises(ValueError, match="duplicate"):
        index.add(["b", "b"], [[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="2 ids but 1 vectors"):
        index.add(["c", "d"], [[0, 1]])


def test_empty_index_returns_no_hits():
    assert MatrixIndex[int](4).search(np.ones((2, 4)), k=3) == [[], []]


def test_cosine_distance_convention():
    assert cosine_distance([1, 0], [2, 0]) == pytest.approx(0.0)
    assert cosine_distance([1, 0], [0, 5]) == pytest.approx(1.0)
    assert cosine_distance([1, 0], [-1, 0]) == pytest.approx(2.0)
