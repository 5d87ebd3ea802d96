import functools
import pickle

import numpy as np
import pytest

from skcross import paired
from skcross.datasets import load_wikipedia, make_cross_modal
from skcross.linear import CCA
from skcross.metrics import (
    average_over_classes,
    average_precision_per_query,
    cross_modal_map,
    cross_modal_recall,
    get_scorer,
    get_scorer_names,
    get_scorers,
    mean_average_precision,
    precision_at_k,
    precision_recall_curve,
    precision_scope_curve,
    recall_at_k,
    top_k,
)
from skcross.metrics import _ranking


# ---------------------------------------------------------------------------
# Plain per-query references, written the way the definitions read.
# ---------------------------------------------------------------------------
def _relevant(y_query, y_db, i, j):
    if y_query is None:
        return i == j
    a, b = np.asarray(y_query)[i], np.asarray(y_db)[j]
    if np.ndim(a) == 1:
        return bool(np.any((a > 0) & (b > 0)))
    return a == b


def _ranked_relevance(S, y_query, y_db, i):
    order = sorted(range(S.shape[1]), key=lambda j: (-S[i, j], j))
    return [_relevant(y_query, y_db, i, j) for j in order]


def naive_map(S, y_query=None, y_db=None, k=None):
    aps = []
    for i in range(S.shape[0]):
        rel = _ranked_relevance(S, y_query, y_db, i)[: k or S.shape[1]]
        hits, precisions = 0, []
        for r, is_rel in enumerate(rel, start=1):
            if is_rel:
                hits += 1
                precisions.append(hits / r)
        aps.append(np.mean(precisions) if precisions else 0.0)
    return np.mean(aps)


def naive_precision_at_k(S, y_query, y_db, k):
    return np.mean([sum(_ranked_relevance(S, y_query, y_db, i)[:k]) / k for i in range(S.shape[0])])


def naive_recall_at_k(S, y_query, y_db, k):
    return np.mean([any(_ranked_relevance(S, y_query, y_db, i)[:k]) for i in range(S.shape[0])])


def naive_pr_curve(S, y_query, y_db, levels):
    out = []
    for i in range(S.shape[0]):
        rel = np.array(_ranked_relevance(S, y_query, y_db, i))
        R = rel.sum()
        if R == 0:
            out.append(np.zeros(len(levels)))
            continue
        cum = np.cumsum(rel)
        precision = cum / np.arange(1, len(rel) + 1)
        recall = cum / R
        out.append([precision[recall >= level - 1e-12].max() for level in levels])
    return np.mean(out, axis=0)


def random_case(rng, n_query, n_db, kind, ties):
    if ties:  # few distinct values: many ties everywhere, also across the k-th place
        S = rng.integers(0, 4, size=(n_query, n_db)).astype(float)
    else:
        S = rng.standard_normal((n_query, n_db))
    if kind == "single":
        y_query, y_db = rng.integers(0, 4, n_query), rng.integers(0, 4, n_db)
        y_query[0] = 99  # a query with no relevant item
    elif kind == "multi":
        y_query = (rng.random((n_query, 5)) < 0.3).astype(np.uint8)
        y_db = (rng.random((n_db, 5)) < 0.3).astype(np.uint8)
        y_query[0] = 0
    else:
        return S[:, :n_query] if n_db >= n_query else S, None, None
    return S, y_query, y_db


CASES = [
    (seed, kind, ties)
    for seed in range(4)
    for kind in ("single", "multi", "pair")
    for ties in (False, True)
]


@pytest.mark.parametrize("seed,kind,ties", CASES)
@pytest.mark.parametrize("small_blocks", [False, True])
def test_metrics_match_per_query_reference(seed, kind, ties, small_blocks, monkeypatch):
    if small_blocks:  # force several blocks, including a ragged last one, ranked in 2 threads
        monkeypatch.setattr(_ranking, "rows_per_block", lambda bytes_per_row: max(1, 8 * 3 * 17 // bytes_per_row))
        for name in ("mean_average_precision", "precision_at_k", "recall_at_k",
                     "precision_scope_curve", "precision_recall_curve"):
            monkeypatch.setitem(globals(), name, functools.partial(getattr(_ranking, name), n_jobs=2))
    rng = np.random.default_rng(seed)
    n_query, n_db = (17, 17) if kind == "pair" else (13, 17)
    S, y_query, y_db = random_case(rng, n_query, n_db, kind, ties)
    for k in (None, 1, 5, n_db):
        np.testing.assert_allclose(mean_average_precision(S, y_query, y_db, k=k), naive_map(S, y_query, y_db, k))
    for k in (1, 3, n_db):
        np.testing.assert_allclose(precision_at_k(S, y_query, y_db, k), naive_precision_at_k(S, y_query, y_db, k))
        np.testing.assert_allclose(recall_at_k(S, y_query, y_db, k), naive_recall_at_k(S, y_query, y_db, k))
    scopes, curve = precision_scope_curve(S, y_query, y_db, scopes=[1, 4, n_db])
    np.testing.assert_allclose(curve, [naive_precision_at_k(S, y_query, y_db, k) for k in scopes])
    levels = np.linspace(0, 1, 11)
    precision, recall = precision_recall_curve(S, y_query, y_db)
    np.testing.assert_allclose(recall, levels)
    np.testing.assert_allclose(precision, naive_pr_curve(S, y_query, y_db, levels))


def test_ties_keep_database_order():
    S = np.zeros((1, 4))
    assert mean_average_precision(S, [1], [0, 0, 0, 1]) == 0.25
    assert mean_average_precision(S, [1], [1, 0, 0, 0]) == 1.0
    # A tie straddling the cut-off: the earlier database item makes the top-1.
    S = np.array([[0.5, 0.9, 0.9]])
    assert precision_at_k(S, [1], [0, 0, 1], k=1) == 0.0
    assert precision_at_k(S, [1], [0, 1, 0], k=1) == 1.0


def test_known_values():
    S = np.array([[0.9, 0.8, 0.7, 0.6]])
    # relevant at ranks 1 and 3: AP = (1/1 + 2/3) / 2
    assert mean_average_precision(S, [1], [1, 0, 1, 0]) == pytest.approx((1 + 2 / 3) / 2)
    # mAP@2 averages over the relevant items inside the top 2 only
    assert mean_average_precision(S, [1], [1, 0, 1, 0], k=2) == pytest.approx(1.0)
    # no relevant item -> 0
    assert mean_average_precision(S, [7], [1, 0, 1, 0]) == 0.0
    assert recall_at_k(np.eye(3)[::-1].copy(), k=1) == pytest.approx(1 / 3)


def test_string_labels_and_label_sets():
    S = np.array([[0.9, 0.1], [0.2, 0.8]])
    assert mean_average_precision(S, ["cat", "dog"], ["cat", "dog"]) == 1.0
    assert mean_average_precision(S, ["cat", "dog"], ["dog", "cat"]) == 0.5


@pytest.mark.parametrize(
    "args, message",
    [
        ((np.zeros((2, 3)), [0, 1], [0, 1]), "y_db has 2 rows"),
        ((np.zeros((2, 3)), [0, 1, 2], [0, 1, 2]), "y_query has 3 rows"),
        ((np.zeros((2, 3)),), "must be square"),
        ((np.zeros((2, 2)), [0, 1], None), "both y_query and y_db"),
        ((np.array([[np.nan, 1.0]]), [0], [0, 1]), "S"),
        ((np.zeros((0, 3)), [], [0, 1, 2]), "S is empty"),
        ((np.zeros(3), [0], [0, 1, 2]), "2-D similarity"),
        ((np.zeros((2, 2)), np.ones((2, 3)), np.ones((2, 4))), "label columns"),
        ((np.zeros((2, 2)), np.full((2, 3), 2), np.ones((2, 3))), "0/1"),
        ((np.zeros((2, 2)), [0, 1], np.ones((2, 3))), "both be 1-D"),
        ((np.zeros((2, 2)), [0.0, np.nan], [0, 1]), "NaN"),
        ((np.zeros((2, 2)), [0, 1], ["0", "1"]), "mix numeric and non-numeric"),
    ],
)
def test_metric_validation(args, message):
    with pytest.raises(ValueError, match=message):
        mean_average_precision(*args)


@pytest.mark.parametrize("k", [0, -1, 2.5, True, None])
def test_invalid_k(k):
    with pytest.raises(ValueError, match="k"):
        if k is None:
            precision_at_k(np.zeros((2, 3)), [0, 1], [0, 1, 0], k=k)
        else:
            mean_average_precision(np.zeros((2, 3)), [0, 1], [0, 1, 0], k=k)


def test_k_beyond_database_is_clipped():
    rng = np.random.RandomState(0)
    S, yq, ydb = rng.rand(6, 4), rng.randint(0, 2, 6), rng.randint(0, 2, 4)
    assert mean_average_precision(S, yq, ydb, k=50) == mean_average_precision(S, yq, ydb)
    assert precision_at_k(S, yq, ydb, k=1000) == precision_at_k(S, yq, ydb, k=4)
    assert recall_at_k(S[:4], k=99) == 1.0
    X_img, X_txt, y = make_cross_modal(30, random_state=0)
    est = CCA(2).fit(X_img, X_txt, y)
    assert cross_modal_map(est, X_img, X_txt, y, k=1000) == cross_modal_map(est, X_img, X_txt, y)
    assert get_scorer("map@1000")(est, paired(X_img, X_txt), y) == est.score(X_img, X_txt, y)
    assert cross_modal_recall(est, X_img, X_txt, k=500)["mean"] == 1.0
    with pytest.raises(ValueError, match="scopes value"):
        precision_scope_curve(S, yq, ydb, scopes=[1, 5])


def test_curve_argument_validation():
    S = np.zeros((2, 3))
    with pytest.raises(ValueError, match="increasing"):
        precision_scope_curve(S, [0, 1], [0, 1, 0], scopes=[2, 1])
    with pytest.raises(ValueError, match="scopes"):
        precision_scope_curve(S, [0, 1], [0, 1, 0], scopes=[0, 1])
    with pytest.raises(ValueError, match="recall_levels"):
        precision_recall_curve(S, [0, 1], [0, 1, 0], recall_levels=[0.5, 1.5])


# ---------------------------------------------------------------------------
# cross-modal evaluation and scorers
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted():
    X_img, X_txt, y = make_cross_modal(160, random_state=0)
    est = CCA(n_components=4).fit(X_img[:100], X_txt[:100])
    return est, X_img[100:], X_txt[100:], y[100:]


def test_cross_modal_map_equals_metric_on_similarity(fitted, monkeypatch):
    est, X_img, X_txt, y = fitted
    S = est.similarity(X_img, X_txt)
    expected = {
        "i2t": mean_average_precision(S, y, y),
        "t2i": mean_average_precision(S.T, y, y),
    }
    monkeypatch.setattr(_ranking, "rows_per_block", lambda bytes_per_row: max(1, 8 * 7 * 60 // bytes_per_row))
    cases = [(k, n_jobs, one_matrix) for k, n_jobs in ((None, None), (10, None), (None, 2)) for one_matrix in (0, 1 << 22)]
    for k, n_jobs, one_matrix in cases:  # similarities per block, or computed once for both directions
        monkeypatch.setattr(_ranking, "fits_in_one_block", lambda n, one_matrix=one_matrix: n <= one_matrix)
        got = cross_modal_map(est, X_img, X_txt, y, k=k, n_jobs=n_jobs)
        assert got["i2t"] == pytest.approx(mean_average_precision(S, y, y, k=k))
        assert got["t2i"] == pytest.approx(mean_average_precision(S.T, y, y, k=k))
        assert got["mean"] == pytest.approx((got["i2t"] + got["t2i"]) / 2)
    assert cross_modal_map(est, X_img, X_txt, y)["i2t"] == pytest.approx(expected["i2t"])
    recall = cross_modal_recall(est, X_img, X_txt, None, k=5)
    assert recall["t2i"] == pytest.approx(recall_at_k(S.T, k=5))


def test_cross_modal_map_unpaired_sets(fitted):
    est, X_img, X_txt, y = fitted
    S = est.similarity(X_img[:20], X_txt)
    got = cross_modal_map(est, X_img[:20], X_txt, (y[:20], y))
    assert got["i2t"] == pytest.approx(mean_average_precision(S, y[:20], y))
    with pytest.raises(ValueError, match="y_img, y_txt"):
        cross_modal_map(est, X_img[:20], X_txt, y)


@pytest.mark.parametrize(
    "name, direction, k",
    [("map", "mean", None), ("map_i2t", "i2t", None), ("map_t2i", "t2i", None), ("map@10", "mean", 10),
     ("map@7_t2i", "t2i", 7), ("recall@5", "mean", 5), ("recall@1_i2t", "i2t", 1)],
)
def test_scorer_equals_metric(fitted, name, direction, k):
    est, X_img, X_txt, y = fitted
    scorer = get_scorer(name)
    labels = None if name.startswith("recall") else y
    function = cross_modal_recall if name.startswith("recall") else cross_modal_map
    assert scorer(est, paired(X_img, X_txt), labels) == function(est, X_img, X_txt, labels, k=k)[direction]
    restored = pickle.loads(pickle.dumps(scorer))
    assert restored(est, paired(X_img, X_txt), labels) == scorer(est, paired(X_img, X_txt), labels)


def test_get_scorer_registry():
    names = get_scorer_names()
    for name in ("map", "map_i2t", "map_t2i", "map@100", "recall@1", "recall@10"):
        assert name in names
    assert all(get_scorer(n).name == n for n in names)
    assert get_scorer("map") is not get_scorer("map")  # a fresh object each time
    assert repr(get_scorer("map@5")) == "get_scorer('map@5')"
    for bad in ("accuracy", "recall", "map@0", "map@-3", "map_x", None):
        with pytest.raises(ValueError, match="not a valid scoring"):
            get_scorer(bad)
    custom = lambda est, X, y: 0.0  # noqa: E731
    assert get_scorer(custom) is custom


def test_get_scorers_for_multi_metric_searches():
    from sklearn.model_selection import GridSearchCV, cross_validate

    X_img, X_txt, y = make_cross_modal(150, n_classes=3, random_state=0)
    X = paired(X_img, X_txt)
    scorers = get_scorers({"t2i": "map_t2i", "both": "map"})
    assert list(scorers) == ["t2i", "both"] and repr(scorers["t2i"]) == "get_scorer('map_t2i')"
    search = GridSearchCV(CCA(), {"n_components": [1, 2]}, scoring=scorers, refit="both", cv=3).fit(X, y)
    assert {"mean_test_t2i", "mean_test_both"} <= set(search.cv_results_)
    default = GridSearchCV(CCA(), {"n_components": [1, 2]}, cv=3).fit(X, y)  # scoring=None: score = mean mAP
    np.testing.assert_allclose(default.cv_results_["mean_test_score"], search.cv_results_["mean_test_both"])
    listed = cross_validate(CCA(2), X, y, cv=3, scoring=get_scorers(["map", "map@10"]))
    assert {"test_map", "test_map@10"} <= set(listed)
    assert list(get_scorers("map_i2t")) == ["map_i2t"]
    with pytest.raises(ValueError, match="not a valid scoring value"):
        get_scorers(["map", "accuracy"])
    with pytest.raises(ValueError, match="lists a name twice"):
        get_scorers(["map", "map"])
    with pytest.raises(ValueError, match="names no scorer"):
        get_scorers([])
    with pytest.raises(TypeError, match="scoring must be a scorer name, a list of names or a dict"):
        get_scorers(3)


def test_scorer_needs_paired_data(fitted):
    est, X_img, X_txt, y = fitted
    with pytest.raises(TypeError, match="PairedData"):
        get_scorer("map")(est, X_img, y)


def test_cross_modal_map_rejects_non_cross_modal_estimator(fitted):
    from sklearn.decomposition import PCA

    _, X_img, X_txt, y = fitted
    with pytest.raises(TypeError, match="not a cross-modal estimator"):
        cross_modal_map(PCA(), X_img, X_txt, y)


def test_label_length_mismatch_speaks_of_the_users_names():
    X_img, X_txt, y = make_cross_modal(60, random_state=0)
    model = CCA(2).fit(X_img, X_txt)
    with pytest.raises(ValueError, match=r"^y has 10 labels but X_img and X_txt have 60 rows"):
        cross_modal_map(model, X_img, X_txt, y[:10])
    with pytest.raises(ValueError, match=r"^y_txt has 20 labels but X_txt has 30 rows"):
        cross_modal_map(model, X_img, X_txt[:30], (y, y[:20]))


def test_top_k_is_the_stable_top_k_and_the_index_agrees():
    from skcross.metrics import top_k
    from skcross.retrieval import CrossModalIndex

    rng = np.random.default_rng(0)
    S = rng.integers(0, 4, size=(50, 40)).astype(float)  # many ties
    for k in (1, 7, 40, 100):
        scores, indices = top_k(S, k)
        expected = np.argsort(-S, axis=1, kind="stable")[:, :min(k, 40)]
        np.testing.assert_array_equal(indices, expected)
        np.testing.assert_array_equal(scores, np.take_along_axis(S, expected, axis=1))
    with pytest.raises(ValueError, match="k must be a positive integer"):
        top_k(S, 0)
    X_img, X_txt, _ = make_cross_modal(300, random_state=0)
    model = CCA(3).fit(X_img, X_txt)
    index = CrossModalIndex(model, batch_size=64).add(X_txt, modality="text")
    np.testing.assert_array_equal(index.search(X_img[:10], k=5)[1], top_k(model.similarity(X_img[:10], X_txt), 5)[1])


def test_score_is_the_pure_two_way_metric_on_embeddings():
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline as sklearn_pipeline

    from skcross.linear import SM
    from skcross.metrics import as_ranker, map_both_ways
    from skcross.preprocessing import ModalityTransformer

    X_img, X_txt, y = make_cross_modal(200, n_classes=4, random_state=0)
    for model in (CCA(3).fit(X_img, X_txt), SM(metric="centered_correlation").fit(X_img, X_txt, y),
                  sklearn_pipeline(ModalityTransformer(image=PCA(6)), CCA(2)).fit(paired(X_img, X_txt), y)):
        ranker = as_ranker(model)
        E_img, E_txt = ranker.embed_image(X_img), ranker.embed_text(X_txt)
        pure = map_both_ways(E_img, E_txt, y, similarity=None if ranker.cosine else ranker.similarity)
        assert pure == cross_modal_map(model, X_img, X_txt, y)
        assert model.score(paired(X_img, X_txt), y) == pytest.approx(pure["mean"], abs=1e-12)
    assert as_ranker(CCA(2)).cosine and not as_ranker(SM(metric="centered_correlation")).cosine
    with pytest.raises(ValueError, match="E_img must be a 2-D array of embeddings"):
        map_both_ways(np.ones(3), np.ones((3, 2)))
    with pytest.raises(TypeError, match="similarity must be a callable or None"):
        map_both_ways(np.ones((3, 2)), np.ones((3, 2)), similarity="cosine")


def test_a_pipeline_is_peeled_in_one_place_with_one_message():
    from sklearn.decomposition import PCA
    from sklearn.pipeline import Pipeline as SklearnPipeline

    from skcross.metrics import as_ranker
    from skcross.pipeline import Pipeline

    X_img, X_txt, y = make_cross_modal(60, random_state=0)
    message = r"Pipeline step 'pca' \(PCA\) cannot transform one modality at a time.*ModalityTransformer"
    for pipeline in (Pipeline, SklearnPipeline):
        pipe = pipeline([("pca", PCA(3)), ("cca", CCA(2))])
        with pytest.raises(TypeError, match=message):
            as_ranker(pipe)
    with pytest.raises(TypeError, match=message):
        Pipeline([("pca", PCA(3)), ("cca", CCA(2))]).transform_image(X_img)


def test_float32_rankings_equal_float64_with_ties_and_signed_zeros():
    """A float32 block is ranked by sorting integer keys, a float64 row by sorting its values:
    the same rankings, ties in database order, -0.0 equal to +0.0."""
    rng = np.random.default_rng(0)
    for trial in range(12):
        S = (rng.integers(-3, 4, (30, 50)) * 0.25).astype(np.float32)
        if trial % 2:
            S = rng.standard_normal((30, 50)).astype(np.float32)
        S[rng.random(S.shape) < 0.1] = -0.0
        S[0, :4], S[1, :4] = np.float32(1e30), np.float32(-1e30)  # extreme exponents
        y_q, y_db = rng.integers(0, 4, 30), rng.integers(0, 4, 50)
        S64 = S.astype(np.float64)
        for k in (None, 1, 7, 49, 50):
            assert mean_average_precision(S, y_q, y_db, k=k) == pytest.approx(
                mean_average_precision(S64, y_q, y_db, k=k), abs=1e-12)
            if k is not None:
                np.testing.assert_array_equal(top_k(S, k)[1], top_k(S64, k)[1])
                assert precision_at_k(S, y_q, y_db, k=k) == precision_at_k(S64, y_q, y_db, k=k)
        np.testing.assert_array_equal(top_k(S, 50)[1], np.argsort(-S64, axis=1, kind="stable"))


@pytest.mark.parametrize("levels", [5, 300, None], ids=["few-tied-values", "many-tied-values", "untied"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_value_sorting_average_precision_equals_a_stable_argsort(levels, dtype):
    """The value-sorting AP (mAP@all's path) against the AP of a stable argsort, ties in database order;
    a row with few tied values and one with more tied values than the per-value comparisons take."""
    rng = np.random.default_rng(levels or 0)
    n_q, n_db = 12, 2000
    S = rng.standard_normal((n_q, n_db)) if levels is None else rng.integers(0, levels, (n_q, n_db)) / 7.0
    S = S.astype(dtype)
    S[S == 0] = -0.0  # equal to +0.0
    y_q, y_db = rng.integers(0, 3, n_q), rng.integers(0, 3, n_db)
    relevant = y_q[:, None] == y_db[None, :]
    expected = []
    for row, rel in zip(S, relevant):
        hits = rel[np.argsort(-row.astype(np.float64), kind="stable")]
        expected.append(np.mean(np.cumsum(hits)[hits] / (np.flatnonzero(hits) + 1)))
    got = [_ranking._row_average_precision(row, rel, None) for row, rel in zip(S, relevant)]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert mean_average_precision(S, y_q, y_db) == pytest.approx(np.mean(expected), abs=1e-12)


def test_float32_map_from_the_value_sorting_size_on_equals_the_key_sorting(monkeypatch):
    """Wide float32 rows with few relevant items switch from sorting keys to sorting values (the rows
    of the frequent class stay with keys): the same mAP, ties included."""
    rng = np.random.default_rng(3)
    n_db = _ranking._FLOAT32_VALUE_SORT_FROM + 5
    S = (rng.integers(0, 400, (6, n_db)) / 9.0).astype(np.float32)
    y_q, y_db = np.arange(6), rng.choice(8, n_db, p=[0.44] + [0.08] * 7)  # query 0: 44 % relevant, others 8 %
    calls = []  # the relevant share of each row whose values are sorted
    by_sorting = _ranking._row_average_precision
    monkeypatch.setattr(_ranking, "_row_average_precision",
                        lambda scores, relevant, k: calls.append(relevant.mean()) or by_sorting(scores, relevant, k))
    by_keys = _ranking._average_precision_rows(
        _ranking._Relevance(y_q, y_db, *S.shape).sorted(np.arange(6), _ranking._rank_block_by_keys(S)))
    assert mean_average_precision(S, y_q, y_db) == pytest.approx(by_keys.mean(), abs=1e-12)
    assert len(calls) == 5 and max(calls) < 0.15  # queries 1 to 5; query 0 (44 % relevant) is keyed
    assert mean_average_precision(S[:, :-6], y_q, y_db[:-6]) == pytest.approx(
        mean_average_precision(S[:, :-6].astype(np.float64), y_q, y_db[:-6]), abs=1e-12)


def test_cosine_blocks_stay_on_the_device(fitted, monkeypatch):
    """With device=, cosine similarities are made and ranked as torch tensors: no block comes back to NumPy."""
    torch = pytest.importorskip("torch")
    est, X_img, X_txt, y = fitted
    kinds = []
    original = _ranking._average_precision_torch

    def spy(rows, S_block, relevance, k, device):
        kinds.append(torch.is_tensor(S_block))
        return original(rows, S_block, relevance, k, device)

    monkeypatch.setattr(_ranking, "_average_precision_torch", spy)
    on_device = cross_modal_map(est, X_img, X_txt, y, device="cpu")
    assert kinds and all(kinds)
    assert on_device == pytest.approx(cross_modal_map(est, X_img, X_txt, y), abs=1e-12)


@pytest.mark.parametrize("relevance", ["pair", "single", "multi"])
def test_ranking_on_a_torch_device_equals_numpy_for_every_kind_of_relevance(relevance):
    """The relevance mask made on the device (pairs, class codes, shared labels) ranks as NumPy's, ties included."""
    pytest.importorskip("torch")
    from skcross.metrics import map_both_ways

    rng = np.random.default_rng(0)
    E_img, E_txt = rng.normal(size=(60, 4)).round(1), rng.normal(size=(60, 4)).round(1)  # rounded: ties
    E_txt[:5] = E_txt[5:10]
    y = {"pair": None, "single": rng.integers(0, 4, 60), "multi": rng.integers(0, 2, (60, 5))}[relevance]
    for k in (None, 7):
        expected = map_both_ways(E_img, E_txt, y, k=k)
        assert map_both_ways(E_img, E_txt, y, k=k, device="cpu") == pytest.approx(expected, abs=1e-12)


# --------------------------------------------------------------------------- return types and curve fields
def test_metric_types_and_curve_fields(small_data):
    rng = np.random.default_rng(0)
    S, y_q, y_db = rng.random((6, 9)), rng.integers(0, 2, 6), rng.integers(0, 2, 9)
    for value in (
        mean_average_precision(S, y_q, y_db),
        precision_at_k(S, y_q, y_db, k=3),
        recall_at_k(S, y_q, y_db, k=3),
    ):
        assert type(value) is float  # was np.float64
    scope = precision_scope_curve(S, y_q, y_db, scopes=[1, 3])
    pr = precision_recall_curve(S, y_q, y_db)
    assert scope.scopes.tolist() == [1, 3] and scope.precision[1] == pytest.approx(precision_at_k(S, y_q, y_db, k=3))
    precision, recall = pr  # scikit-learn's order, unchanged
    assert pr.precision is precision and pr.recall is recall


def _ranked_relevance_matrix(S, y_q, y_db):
    order = np.argsort(-S, axis=1, kind="stable")
    return np.asarray(y_db)[order] == np.asarray(y_q)[:, None]


# --------------------------------------------------------------------- class-balanced
@pytest.mark.parametrize("seed", range(4))
def test_class_balanced_map_and_precision_equal_a_direct_computation(seed):
    rng = np.random.default_rng(seed)
    S = rng.integers(0, 5, size=(60, 90)).astype(float)  # many ties
    y_q, y_db = rng.choice(4, 60, p=[0.6, 0.2, 0.15, 0.05]), rng.integers(0, 4, 90)
    rel = _ranked_relevance_matrix(S, y_q, y_db)
    ap = np.array([np.mean(np.cumsum(r)[r] / (np.flatnonzero(r) + 1)) if r.any() else 0.0 for r in rel])
    expected = np.mean([ap[y_q == c].mean() for c in np.unique(y_q)])
    assert mean_average_precision(S, y_q, y_db, average="classes") == pytest.approx(expected, abs=1e-12)
    p10 = rel[:, :10].mean(axis=1)
    assert precision_at_k(S, y_q, y_db, k=10, average="classes") == pytest.approx(
        np.mean([p10[y_q == c].mean() for c in np.unique(y_q)]), abs=1e-12)
    ap20 = average_precision_per_query(S, y_q, y_db, k=20)
    assert mean_average_precision(S, y_q, y_db, k=20, average="classes") == pytest.approx(
        average_over_classes(ap20, y_q), abs=1e-12)


def test_class_balanced_map_multilabel_averages_each_label_over_its_queries():
    values = np.array([1.0, 0.5, 0.0])
    y = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0]])  # label 2 carried by no query: left out
    assert average_over_classes(values, y) == pytest.approx(((1.0 + 0.5) / 2 + (0.5 + 0.0) / 2) / 2)


def test_class_balanced_map_cannot_be_inflated_by_the_class_prior():
    """On Wikipedia the query-independent ranking beats CCA by mAP (0.252) but is lower class-balanced."""
    from skcross.metrics import class_prior_similarity

    data = load_wikipedia()
    prior = class_prior_similarity(data.y_train, data.y_test, len(data.y_test))
    plain = mean_average_precision(prior, data.y_test, data.y_test)
    balanced = mean_average_precision(prior, data.y_test, data.y_test, average="classes")
    assert round(plain, 4) == 0.2524 and round(balanced, 4) == 0.1903


def test_balanced_scorers_and_errors():
    X_img, X_txt, y = make_cross_modal(240, n_classes=4, random_state=0)
    est = CCA(3).fit(X_img[:160], X_txt[:160])
    X, yt = paired(X_img[160:], X_txt[160:]), y[160:]
    expected = cross_modal_map(est, X_img[160:], X_txt[160:], yt, average="classes")
    assert get_scorer("balanced_map")(est, X, yt) == pytest.approx(expected["mean"])
    assert get_scorer("balanced_map_t2i")(est, X, yt) == pytest.approx(expected["t2i"])
    S = est.similarity(X_img[160:], X_txt[160:])
    assert get_scorer("balanced_precision@5_i2t")(est, X, yt) == pytest.approx(
        precision_at_k(S, yt, yt, k=5, average="classes"))
    assert get_scorer("precision@5_t2i")(est, X, yt) == pytest.approx(precision_at_k(S.T, yt, yt, k=5))
    with pytest.raises(ValueError, match="average must be 'queries'"):
        mean_average_precision(S, yt, yt, average="macro")
    with pytest.raises(ValueError, match="average='classes' needs labels"):
        mean_average_precision(S, average="classes")
    for bad in ("balanced_recall@1", "precision", "balanced_map_x"):
        with pytest.raises(ValueError, match="not a valid scoring"):
            get_scorer(bad)


@pytest.mark.parametrize("labels", ["single", "multi"])
def test_rank_queries_is_what_every_metric_reduces(labels):
    """One ranking, many statistics: each equals the public metric it stands behind."""
    from skcross.metrics import Statistic, first_relevant_rank, rank_queries

    rng = np.random.default_rng(0)
    S = np.round(rng.random((60, 80)), 2)  # ties
    if labels == "single":
        y_q, y_db = rng.integers(0, 4, 60), rng.integers(0, 4, 80)
    else:
        y_q, y_db = rng.integers(0, 2, (60, 3)), rng.integers(0, 2, (80, 3))
    asked = [Statistic("ap"), Statistic("ap", 20), Statistic("hits", 5), Statistic("found", 3),
             Statistic("first_rank"), Statistic("scope", [1, 10, 80]), Statistic("pr")]
    ranked = rank_queries(S, y_q, y_db, asked)
    ap, ap20, hits5, found3, first_rank, scope, pr = ranked.values
    assert ap.mean() == pytest.approx(mean_average_precision(S, y_q, y_db))
    np.testing.assert_allclose(ap20, average_precision_per_query(S, y_q, y_db, k=20), rtol=0, atol=1e-12)
    assert hits5.mean() / 5 == pytest.approx(precision_at_k(S, y_q, y_db, k=5))
    assert found3.mean() == pytest.approx(recall_at_k(S, y_q, y_db, k=3))
    np.testing.assert_array_equal(first_rank, first_relevant_rank(S, y_q, y_db))
    np.testing.assert_allclose(scope.sum(axis=0) / (np.array([1, 10, 80]) * 60),
                               precision_scope_curve(S, y_q, y_db, scopes=[1, 10, 80]).precision)
    np.testing.assert_allclose(pr.mean(axis=0), precision_recall_curve(S, y_q, y_db).precision)
    assert pr.shape == (60, 11) and scope.shape == (60, 3)
    # the one set of reductions, which every public metric uses (AP's last bits follow the kernel the statistics
    # asked together choose: a ranked list here, a sort of values for mean_average_precision alone)
    assert ranked.reduce(0) == pytest.approx(mean_average_precision(S, y_q, y_db), abs=1e-12)
    assert ranked.reduce(0, "classes") == pytest.approx(mean_average_precision(S, y_q, y_db, average="classes"))
    assert ranked.reduce(2) == precision_at_k(S, y_q, y_db, k=5)
    assert ranked.reduce(3) == recall_at_k(S, y_q, y_db, k=3)
    np.testing.assert_array_equal(ranked.reduce(5).precision,
                                  precision_scope_curve(S, y_q, y_db, [1, 10, 80]).precision)
    np.testing.assert_array_equal(ranked.reduce(6).recall, np.linspace(0, 1, 11))
    assert ranked.statistics[1] == Statistic("ap", 20) and ranked.statistics[6].what == "pr"


@pytest.mark.parametrize("statistics, message", [
    (["ap"], "'ap' is not a Statistic"),
    ([("map", None)], "is not a Statistic"),
    ("ap", "non-empty list of Statistic values"),
    ([], "non-empty list of Statistic values"),
])
def test_rank_queries_names_the_bad_statistic(statistics, message):
    from skcross.metrics import rank_queries

    with pytest.raises(ValueError, match=message):
        rank_queries(np.eye(3), [0, 1, 2], [0, 1, 2], statistics)


def test_rank_queries_refuses_bad_cut_offs_by_name():
    from skcross.metrics import Statistic, rank_queries

    for statistic, message in [(Statistic("map"), "'map'"),
                               (Statistic("hits"), "k must be a positive integer, got None"),
                               (Statistic("ap", 0), "k must be a positive integer or None, got 0"),
                               (Statistic("first_rank", 3), "takes no cut-off"),
                               (Statistic("scope", [3, 2]), "strictly increasing"),
                               (Statistic("pr", [2.0]), "recall_levels must be")]:
        with pytest.raises(ValueError, match=message):
            rank_queries(np.eye(3), [0, 1, 2], [0, 1, 2], [statistic])


@pytest.mark.parametrize("y", ["labels", "pairs"])
def test_rank_both_ways_is_what_every_two_way_metric_reduces(fitted, y):
    """An estimator, its embeddings and its similarity matrix give the same per-query values both ways,
    and cross_modal_map, cross_modal_precision, cross_modal_recall and the scorers are their reductions."""
    from skcross.metrics import (Statistic, as_ranker, cross_modal_precision, cross_modal_recall, rank_both_ways,
                                 rank_queries)

    est, X_img, X_txt, labels = fitted
    labels = labels if y == "labels" else None
    asked = [Statistic("ap"), Statistic("hits", 10), Statistic("found", 5), Statistic("first_rank")]
    by_estimator = rank_both_ways(est, X_img, X_txt, labels, statistics=asked)
    ranker = as_ranker(est)
    by_embeddings = rank_both_ways("cosine", ranker.embed_image(X_img), ranker.embed_text(X_txt), labels,
                                   statistics=asked)
    S = est.similarity(X_img, X_txt)
    by_matrix = rank_both_ways("precomputed", S, None, labels, statistics=asked)
    for direction, S_d in (("i2t", S), ("t2i", S.T)):
        one_way = rank_queries(S_d, labels, labels, asked)
        for values in (by_estimator, by_embeddings, by_matrix):
            for got, expected in zip(values[direction].values, one_way.values):
                np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    means = {d: by_estimator[d].reduce(0) for d in ("i2t", "t2i")}
    assert cross_modal_map(est, X_img, X_txt, labels) == {**means, "mean": (means["i2t"] + means["t2i"]) / 2}
    assert cross_modal_precision(est, X_img, X_txt, labels)["t2i"] == by_estimator["t2i"].reduce(1)
    assert cross_modal_recall(est, X_img, X_txt, labels, k=5)["i2t"] == by_estimator["i2t"].reduce(2)
    assert get_scorer("recall@5_i2t")(est, paired(X_img, X_txt), labels) == by_estimator["i2t"].reduce(2)
    if labels is not None:
        balanced = cross_modal_recall(est, X_img, X_txt, labels, k=5, average="classes")
        assert balanced["t2i"] == by_estimator["t2i"].reduce(2, "classes")
        assert get_scorer("balanced_precision@10")(est, paired(X_img, X_txt), labels) == pytest.approx(
            cross_modal_precision(est, X_img, X_txt, labels, average="classes")["mean"])


def test_rank_both_ways_refuses_bad_input_by_name(fitted):
    from skcross.metrics import Statistic, rank_both_ways

    est, X_img, X_txt, y = fitted
    with pytest.raises(ValueError, match="ranking must be a fitted estimator, a callable .* got 'cosin'"):
        rank_both_ways("cosin", X_img, X_txt)
    with pytest.raises(ValueError, match="X_txt must be None"):
        rank_both_ways("precomputed", np.eye(3), np.eye(3))
    with pytest.raises(ValueError, match="X_img must be a 2-D similarity matrix"):
        rank_both_ways("precomputed", np.ones(3))
    with pytest.raises(ValueError, match="k must be a positive integer"):  # before anything is embedded
        rank_both_ways(est, X_img, X_txt, y, statistics=[Statistic("hits")])
    with pytest.raises(TypeError, match="not a cross-modal estimator"):
        rank_both_ways(object(), X_img, X_txt, y)
    with pytest.raises(ValueError, match="average must be 'queries'"):
        rank_both_ways(est, X_img, X_txt, y)["i2t"].reduce(0, "macro")


def test_no_private_name_crosses_a_module_line_inside_metrics_but_the_shared_checks():
    """Inside skcross.metrics a module uses another's public names only; _checks (the shared input checks) is the
    one internal module whose private names the others import."""
    import ast
    import pathlib

    import skcross.metrics

    crossing = []
    for path in pathlib.Path(skcross.metrics.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module != "_checks":
                crossing += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert crossing == []
