"""Property-based tests (hypothesis) of the ranking metrics, the scorers and PairedData."""

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from skcross import paired  # noqa: E402
from skcross.datasets import make_cross_modal  # noqa: E402
from skcross.linear import CCA  # noqa: E402
from skcross.metrics import (  # noqa: E402
    cross_modal_map,
    get_scorer,
    mean_average_precision,
    precision_at_k,
    recall_at_k,
)
from skcross.metrics._ranking import _average_precision_rows, _Relevance, _rank_block  # noqa: E402

# Seeded and without a deadline: reproducible in CI, and not flaky on a slow machine.
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


@st.composite
def ranking_problems(draw, max_queries=4, max_db=12, multilabel=None):
    """A similarity matrix with many ties (small integers) and labels of the queries and items."""
    n_q = draw(st.integers(1, max_queries))
    n_db = draw(st.integers(1, max_db))
    S = draw(hnp.arrays(np.float64, (n_q, n_db), elements=st.integers(0, 4).map(float)))
    multilabel = draw(st.booleans()) if multilabel is None else multilabel
    if multilabel:
        y_q = draw(hnp.arrays(np.uint8, (n_q, 3), elements=st.integers(0, 1)))
        y_db = draw(hnp.arrays(np.uint8, (n_db, 3), elements=st.integers(0, 1)))
    else:
        y_q = draw(hnp.arrays(np.int64, n_q, elements=st.integers(0, 2)))
        y_db = draw(hnp.arrays(np.int64, n_db, elements=st.integers(0, 2)))
    return S, y_q, y_db


def _per_query_ap(S, y_q, y_db):
    relevance = _Relevance(y_q, y_db, *S.shape)
    return _average_precision_rows(relevance.sorted(np.arange(S.shape[0]), _rank_block(S)))


@SETTINGS
@given(ranking_problems())
def test_average_precision_is_in_unit_interval(problem):
    S, y_q, y_db = problem
    ap = _per_query_ap(S, y_q, y_db)
    assert np.all((ap >= 0) & (ap <= 1))
    assert mean_average_precision(S, y_q, y_db) == pytest.approx(ap.mean())
    # precision@3 by its definition: a stable descending sort, the relevant items among the first three
    relevant = _Relevance(y_q, y_db, *S.shape).mask(np.arange(S.shape[0]), S.shape[1])
    top = np.argsort(-S, axis=1, kind="stable")[:, :3]
    expected = np.take_along_axis(relevant, top, axis=1).sum(axis=1) / min(3, S.shape[1])
    assert precision_at_k(S, y_q, y_db, k=3) == pytest.approx(expected.mean())


@SETTINGS
@given(ranking_problems(max_queries=1), st.randoms(use_true_random=False))
def test_map_invariant_to_a_tie_order_preserving_permutation(problem, random):
    """Reordering the database changes nothing as long as tied items keep their relative order."""
    S, y_q, y_db = problem
    n_db = S.shape[1]
    perm = np.array(random.sample(range(n_db), n_db))
    for value in np.unique(S[0]):  # within each tie group, put the members back in database order
        members = np.flatnonzero(S[0] == value)
        positions = np.sort(np.flatnonzero(np.isin(perm, members)))
        perm[positions] = members
    assert sorted(perm) == list(range(n_db))
    expected = mean_average_precision(S, y_q, y_db)
    assert mean_average_precision(S[:, perm], y_q, y_db[perm]) == pytest.approx(expected, abs=1e-12)


@SETTINGS
@given(ranking_problems())
def test_map_invariant_to_strictly_increasing_transform(problem):
    S, y_q, y_db = problem
    expected = mean_average_precision(S, y_q, y_db)
    for transform in (lambda s: s**3 + 2 * s - 7, np.exp, lambda s: 0.5 * s):
        assert mean_average_precision(transform(S), y_q, y_db) == pytest.approx(expected, abs=1e-12)


@SETTINGS
@given(ranking_problems())
def test_perfect_ranking_gives_one(problem):
    _, y_q, y_db = problem
    relevant = _Relevance(y_q, y_db, len(y_q), len(y_db)).sorted(
        np.arange(len(y_q)), np.tile(np.arange(len(y_db)), (len(y_q), 1))
    )
    hypothesis.assume(relevant.any(axis=1).all())  # every query has something to find
    S = relevant.astype(float)  # relevant items first, whatever their order among themselves
    assert mean_average_precision(S, y_q, y_db) == pytest.approx(1.0)
    assert recall_at_k(S, y_q, y_db, k=1) == 1.0


@SETTINGS
@given(ranking_problems(), st.integers(0, 20))
def test_map_at_k_beyond_the_database_equals_map_at_all(problem, extra):
    S, y_q, y_db = problem
    k = S.shape[1] + extra
    assert mean_average_precision(S, y_q, y_db, k=k) == mean_average_precision(S, y_q, y_db)
    assert precision_at_k(S, y_q, y_db, k=k) == precision_at_k(S, y_q, y_db, k=S.shape[1])


@pytest.fixture(scope="module")
def fitted_cca():
    X_img, X_txt, y = make_cross_modal(300, random_state=0)
    return CCA(4).fit(X_img, X_txt, y)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.integers(5, 60), st.integers(0, 10_000), st.sampled_from(["map", "map_i2t", "map_t2i", "map@5"]))
def test_scorer_value_equals_metric_value(fitted_cca, n, seed, name):
    X_img, X_txt, y = make_cross_modal(n, random_state=seed)
    S = fitted_cca.similarity(X_img, X_txt)
    k = 5 if "@" in name else None
    i2t, t2i = mean_average_precision(S, y, y, k=k), mean_average_precision(S.T, y, y, k=k)
    expected = {"map": (i2t + t2i) / 2, "map_i2t": i2t, "map_t2i": t2i, "map@5": (i2t + t2i) / 2}[name]
    assert get_scorer(name)(fitted_cca, paired(X_img, X_txt), y) == pytest.approx(expected, abs=1e-12)
    assert cross_modal_map(fitted_cca, X_img, X_txt, y, k=k)["i2t"] == pytest.approx(i2t, abs=1e-12)


@st.composite
def row_indices(draw, n):
    kind = draw(st.sampled_from(["int", "array", "mask", "slice", "negative"]))
    if kind == "int":
        return draw(st.integers(0, n - 1))
    if kind == "array":
        return np.array(draw(st.lists(st.integers(0, n - 1), max_size=2 * n)), dtype=np.intp)
    if kind == "mask":
        return np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    if kind == "negative":
        return np.array(draw(st.lists(st.integers(-n, -1), min_size=1, max_size=n)), dtype=np.intp)
    start, stop = draw(st.integers(-n, n)), draw(st.integers(-n, n))
    step = draw(st.sampled_from([None, 1, 2, -1, 3]))
    return slice(start, stop, step)


@SETTINGS
@given(st.integers(1, 15).flatmap(lambda n: st.tuples(st.just(n), row_indices(n))), st.booleans())
def test_paired_indexing_keeps_pairs_together(n_and_index, with_ellipsis):
    n, index = n_and_index
    ids = np.arange(n, dtype=float)
    X = paired(np.column_stack([ids, ids * 2]), np.column_stack([ids, -ids, ids]))
    part = X[index, ...] if with_ellipsis else X[index]
    image, text = np.atleast_2d(part.image), np.atleast_2d(part.text)
    np.testing.assert_array_equal(image[:, 0], text[:, 0])  # row i of both modalities is one pair
    np.testing.assert_array_equal(image[:, 0], ids[index] if not isinstance(index, int) else [ids[index]])
