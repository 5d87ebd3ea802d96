"""skcross.retrieval.CrossModalIndex: exact and faiss search, re-ranking, persistence, Dask."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA

from skcross.base import cosine_similarity
from skcross.datasets import make_cross_modal
from skcross.linear import CCA, SM
from skcross.pipeline import make_pipeline
from skcross.preprocessing import ModalityTransformer
from skcross.reference import SSMAL
from skcross import retrieval
from skcross.retrieval import CrossModalIndex


@pytest.fixture(scope="module")
def data():
    X_img, X_txt, y = make_cross_modal(400, n_classes=5, random_state=0)
    return X_img, X_txt, y, CCA(4).fit(X_img[:300], X_txt[:300])


@pytest.fixture(params=["numpy", "torch"])
def top_k_path(request, monkeypatch):
    """Run a test with the exact backend's NumPy top-k and with torch's."""
    if request.param == "numpy":
        monkeypatch.setattr(retrieval, "_torch_device", lambda index: None)
    else:
        pytest.importorskip("torch")
    return request.param


def brute_force(S, k):
    """Top-k by descending score, ties by database order."""
    order = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(S, order, axis=1), order


@pytest.mark.parametrize("gallery", ["text", "image"])
def test_exact_search_is_the_brute_force_ranking(data, gallery, top_k_path):
    X_img, X_txt, _, model = data
    Z_img, Z_txt = model.transform_image(X_img), model.transform_text(X_txt)
    S = cosine_similarity(Z_img[:50], Z_txt) if gallery == "text" else cosine_similarity(Z_img, Z_txt[:50]).T
    items, queries = (X_txt, X_img[:50]) if gallery == "text" else (X_img, X_txt[:50])
    index = CrossModalIndex(model, batch_size=7).add(items, modality=gallery, ids=np.arange(1000, 1400))
    scores, ids = index.search(queries, k=12)
    expected_scores, expected = brute_force(S, 12)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(ids, expected + 1000)
    assert len(index) == 400 and index.modality_ == gallery


def test_ties_keep_insertion_order_across_blocks(data, top_k_path):
    X_img, X_txt, _, model = data
    items = np.repeat(X_txt[:3], 10, axis=0)  # ten copies of three texts: ties everywhere
    index = CrossModalIndex(model, batch_size=4).add(items, modality="text")
    _, ids = index.search(X_img[:5], k=15)
    S = cosine_similarity(model.transform_image(X_img[:5]), model.transform_text(items))
    np.testing.assert_array_equal(ids, brute_force(S, 15)[1])


def test_ids_of_your_choosing_are_returned_as_given(data, tmp_path):
    pd = pytest.importorskip("pandas")
    X_img, X_txt, _, model = data
    names = np.array([f"doc{i}" for i in range(100)])
    index = CrossModalIndex(model).add(X_txt[:100], modality="text", ids=names)
    index.add(X_txt[100:150], modality="text", ids=pd.Index([f"page-{i}" for i in range(50)]))
    expected = brute_force(model.similarity(X_img[:4], X_txt[:150]), 5)[1]
    _, ids = index.search(X_img[:4], k=5)
    np.testing.assert_array_equal(ids, np.concatenate([names, [f"page-{i}" for i in range(50)]])[expected])
    assert ids.dtype.kind == "U"
    loaded = CrossModalIndex.load(index.save(tmp_path / "index.joblib"))
    np.testing.assert_array_equal(loaded.search(X_img[:4], k=5)[1], ids)
    with pytest.raises(ValueError, match="already used"):
        index.add(X_txt[:1], modality="text", ids=["doc3"])
    with pytest.raises(ValueError, match=r"holds ids of your choosing \(e.g. 'doc0'\); pass ids="):
        index.add(X_txt[:1], modality="text")
    # kinds mixed: objects, each id as given (7 stays an integer, "7" a string)
    mixed = CrossModalIndex(model).add(X_txt[:2], modality="text", ids=[7, 8]).add(
        X_txt[2:4], modality="text", ids=["7", ("a", 1)])
    assert mixed.ids_.dtype == object and mixed.ids_.tolist() == [7, 8, "7", ("a", 1)]
    with pytest.raises(ValueError, match="must be hashable"):
        CrossModalIndex(model).add(X_txt[:2], modality="text", ids=np.array([[1], "b"], dtype=object))


def test_adding_in_parts_with_ids_and_k_clipped(data):
    X_img, X_txt, _, model = data
    index = CrossModalIndex(model).add(X_txt[:100], modality="text").add(X_txt[100:150], modality="text")
    np.testing.assert_array_equal(index.ids_, np.arange(150))
    scores, ids = index.search(X_img[:3], k=1000)
    assert ids.shape == (3, 150)
    with pytest.raises(ValueError, match="already used or repeated"):
        index.add(X_txt[:2], modality="text", ids=[5, 200])
    with pytest.raises(ValueError, match="holds text items"):
        index.add(X_img[:2], modality="image")
    with pytest.raises(ValueError, match="modality must be"):
        CrossModalIndex(model).add(X_txt, modality="audio")
    with pytest.raises(ValueError, match="index is empty"):
        CrossModalIndex(model).search(X_img, k=3)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        index.search(X_img, k=0)
    with pytest.raises(ValueError, match="not floating-point numbers .* ids.astype.int."):
        CrossModalIndex(model).add(X_txt[:2], modality="text", ids=[1.5, 2.5])
    with pytest.raises(ValueError, match="ids must hold 2 ids, one per row of X, got shape .3,."):
        CrossModalIndex(model).add(X_txt[:2], modality="text", ids=[1, 2, 3])
    with pytest.raises(ValueError, match="backend must be"):
        CrossModalIndex(model, backend="annoy")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        CrossModalIndex(model, batch_size=0)
    with pytest.raises(ValueError, match="index_params"):
        CrossModalIndex(model, index_params={"nprobes": 3})


def test_pipeline_and_unfitted_estimator(data):
    X_img, X_txt, _, _ = data
    pipe = make_pipeline(ModalityTransformer(image=PCA(10), text=PCA(10)), CCA(3))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        CrossModalIndex(pipe).add(X_txt, modality="text")
    from skcross import paired

    pipe.fit(paired(X_img, X_txt))
    _, ids = CrossModalIndex(pipe).add(X_txt, modality="text").search(X_img[:4], k=5)
    S = pipe.similarity(X_img[:4], X_txt)
    np.testing.assert_array_equal(ids, brute_force(S, 5)[1])


@pytest.mark.parametrize("make_model", [
    lambda X_img, X_txt, y: SM(metric="centered_correlation").fit(X_img, X_txt, y),
    lambda X_img, X_txt, y: SSMAL(20, random_state=0).fit(X_img, X_txt)], ids=["SM-centered", "SSMAL-pearson"])
def test_learned_similarity_is_reranked_exactly(data, make_model):
    X_img, X_txt, y, _ = data
    model = make_model(X_img[:300], X_txt[:300], y[:300])
    S = model.similarity(X_img[:20], X_txt)
    expected_scores, expected = brute_force(S, 10)
    full = CrossModalIndex(model, rerank=False).add(X_txt, modality="text")
    scores, ids = full.search(X_img[:20], k=10)
    np.testing.assert_array_equal(ids, expected)
    reranked = CrossModalIndex(model, n_candidates=400).add(X_txt, modality="text")  # rerank=None: on
    assert reranked.reranks and not full.reranks
    scores, ids = reranked.search(X_img[:20], k=10)
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-6)


def test_cosine_rankers_are_searched_without_reranking(data):
    """SM's normalised correlation, DSE's and UNCSM's cosine settings are cosine: declared, so no re-ranking."""
    X_img, X_txt, y, _ = data
    model = SM().fit(X_img[:300], X_txt[:300], y[:300])
    index = CrossModalIndex(model).add(X_txt, modality="text")
    assert not index.reranks
    scores, ids = index.search(X_img[:20], k=10)
    S = model.similarity(X_img[:20], X_txt)  # posteriors have many near-ties: float32 cosine may swap them
    np.testing.assert_allclose(scores, brute_force(S, 10)[0], atol=1e-6)
    np.testing.assert_allclose(np.take_along_axis(S, ids, axis=1), scores, atol=1e-6)


def test_third_party_estimator_uses_its_public_similarity(data):
    X_img, X_txt, y, _ = data

    class NegativeDistance(BaseEstimator):
        def fit(self, X_img, X_txt, y=None):
            self.fitted_ = True
            return self

        def transform_image(self, X):
            return X[:, :5]

        def transform_text(self, X):
            return X[:, :5]

        def similarity(self, X_img, X_txt):
            return -((X_img[:, None, :5] - X_txt[None, :, :5]) ** 2).sum(-1)

    model = NegativeDistance().fit(X_img, X_txt)
    _, ids = CrossModalIndex(model, batch_size=64).add(X_txt, modality="text").search(X_img[:6], k=4)
    np.testing.assert_array_equal(ids, brute_force(model.similarity(X_img[:6], X_txt), 4)[1])
    pytest.importorskip("faiss")
    with pytest.raises(TypeError, match="backend='exact'"):
        CrossModalIndex(model, backend="faiss")


def test_torch_device_matches_numpy(data, monkeypatch):
    pytest.importorskip("torch")
    X_img, X_txt, _, model = data
    with monkeypatch.context() as patch:
        patch.setattr(retrieval, "_torch_device", lambda index: None)
        a = CrossModalIndex(model).add(X_txt, modality="text").search(X_img[:30], k=7)
    b = CrossModalIndex(model, device="cpu").add(X_txt, modality="text").search(X_img[:30], k=7)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_allclose(a[0], b[0], rtol=1e-5)


def test_save_and_load(data, tmp_path):
    X_img, X_txt, _, model = data
    index = CrossModalIndex(model).add(X_txt, modality="text", ids=np.arange(400) * 3)
    path = index.save(tmp_path / "index.joblib")
    loaded = CrossModalIndex.load(path)
    for a, b in zip(index.search(X_img[:9], k=5), loaded.search(X_img[:9], k=5)):
        np.testing.assert_array_equal(a, b)
    import joblib

    joblib.dump({"not": "an index"}, tmp_path / "other.joblib")
    with pytest.raises(TypeError, match="not a CrossModalIndex"):
        CrossModalIndex.load(tmp_path / "other.joblib")


# ------------------------------------------------------------------ faiss
@pytest.fixture(scope="module")
def large():
    """5,000 texts, 200 image queries, 16-d CCA embeddings."""
    X_img, X_txt, y = make_cross_modal(5200, n_classes=20, n_features_image=64, n_features_text=48, n_latent=16,
                                       random_state=1)
    model = CCA(16).fit(X_img[:2000], X_txt[:2000])
    return X_img[5000:], X_txt[:5000], model


def test_faiss_flat_equals_exact(large, tmp_path):
    pytest.importorskip("faiss")
    queries, items, model = large
    exact = CrossModalIndex(model).add(items, modality="text").search(queries, k=10)
    flat = CrossModalIndex(model, backend="faiss", index_type="flat").add(items, modality="text")
    scores, ids = flat.search(queries, k=10)
    np.testing.assert_allclose(scores, exact[0], atol=1e-5)
    assert (ids == exact[1]).mean() > 0.99  # float32 inner products may swap near-equal neighbours
    loaded = CrossModalIndex.load(flat.save(tmp_path / "flat.joblib"))
    np.testing.assert_array_equal(loaded.search(queries, k=10)[1], ids)


@pytest.mark.parametrize("index_type, params", [("hnsw", {"M": 16, "ef_search": 128}),
                                                ("ivf", {"nlist": 32, "nprobe": 8})])
def test_faiss_approximate_recall(large, index_type, params):
    pytest.importorskip("faiss")
    queries, items, model = large
    _, exact = CrossModalIndex(model).add(items, modality="text").search(queries, k=10)
    index = CrossModalIndex(model, backend="faiss", index_type=index_type, index_params=params)
    _, ids = index.add(items, modality="text").search(queries, k=10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, exact)])
    assert recall >= 0.95, recall


@pytest.mark.parametrize("index_type, params", [("auto", None), ("hnsw", {"M": 8, "ef_search": 16}),
                                                ("ivf", {"nlist": 64, "nprobe": 1})])
def test_faiss_answers_any_k_up_to_the_gallery(data, index_type, params):
    """k = the whole gallery (beyond HNSW's ef_search, beyond IVF's probed lists) returns every item once."""
    pytest.importorskip("faiss")
    X_img, X_txt, _, model = data
    index = CrossModalIndex(model, backend="faiss", index_type=index_type, index_params=params)
    index.add(X_txt, modality="text")
    assert index.index_type_ == ("flat" if index_type == "auto" else index_type)  # a small gallery: exact
    scores, ids = index.search(X_img[:5], k=len(X_txt))
    assert ids.shape == (5, len(X_txt))
    assert all(sorted(row) == list(range(len(X_txt))) for row in ids.tolist())
    assert (np.diff(scores, axis=1) <= 1e-6).all()
    if index_type == "hnsw":
        assert index._backend.faiss_index.hnsw.efSearch == 16  # the user's setting is kept for the next searches


def test_faiss_reranks_a_learned_similarity(data):
    pytest.importorskip("faiss")
    X_img, X_txt, y, _ = data
    model = SM(metric="centered_correlation").fit(X_img[:300], X_txt[:300], y[:300])
    index = CrossModalIndex(model, backend="faiss", index_type="flat", n_candidates=400).add(X_txt, modality="text")
    _, ids = index.search(X_img[:10], k=5)
    np.testing.assert_array_equal(ids, brute_force(model.similarity(X_img[:10], X_txt), 5)[1])


# ------------------------------------------------------------------ Dask
@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None, silence_logs=40)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_index_over_a_dask_array_embeds_on_the_workers(data, dask_client):
    import dask.array as da

    X_img, X_txt, _, model = data
    gallery = da.from_array(X_txt, chunks=(100, 7))  # column chunks are joined into whole rows
    index = CrossModalIndex(model).add(gallery, modality="text")
    local = CrossModalIndex(model).add(X_txt, modality="text")
    np.testing.assert_allclose(index.embeddings_, local.embeddings_, rtol=1e-6)
    np.testing.assert_array_equal(index.search(X_img[:5], k=6)[1], local.search(X_img[:5], k=6)[1])
    assert len(dask_client.scheduler_info()["workers"]) == 2


def test_grid_search_on_a_dask_cluster(data, dask_client):
    import joblib
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from skcross import paired
    from skcross.metrics import get_scorer

    X_img, X_txt, y, _ = data
    search = lambda: GridSearchCV(CCA(), {"n_components": [2, 4], "reg": [1e-3, 1.0]},  # noqa: E731
                                  scoring=get_scorer("map"), cv=StratifiedKFold(3, shuffle=True, random_state=0),
                                  n_jobs=-1)
    with joblib.parallel_backend("dask"):
        on_cluster = search().fit(paired(X_img, X_txt), y)
    local = search().set_params(n_jobs=1).fit(paired(X_img, X_txt), y)
    assert on_cluster.best_params_ == local.best_params_
    np.testing.assert_allclose(on_cluster.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])


# ------------------------------------------------------------------ evaluation at scale
@pytest.mark.parametrize("labels", ["single", "multi", "pairs"])
@pytest.mark.parametrize("k", [None, 3, 60])
def test_torch_ranking_equals_numpy(labels, k):
    """device= ranks with torch (here on the CPU); ties, multi-label and pair relevance included."""
    pytest.importorskip("torch")
    from skcross.metrics import _ranking, cross_modal_map

    X_img, X_txt, y = make_cross_modal(120, n_classes=4, multilabel=labels == "multi", random_state=2)
    X_txt = np.round(X_txt, 1)  # coarse features: tied similarities
    model = CCA(2).fit(X_img, X_txt)
    y = None if labels == "pairs" else y
    expected = cross_modal_map(model, X_img, X_txt, y, k=k)
    assert cross_modal_map(model, X_img, X_txt, y, k=k, device="cpu") == pytest.approx(expected, abs=1e-12)
    # the value-sorting kernel against the argsort ranking, block by block
    Z = model.similarity(X_img, np.repeat(X_txt[:40], 2, axis=0))  # exact ties between copies
    y_q, y_db = (None, None) if y is None else (y, np.repeat(y[:40], 2, axis=0))
    if y is None:
        Z, y_q, y_db = Z[:80], np.arange(80), np.arange(80) // 1
    S = np.asarray(Z, dtype=np.float64)
    relevance = _ranking._Relevance(y_q, y_db, *S.shape)
    rows = np.arange(S.shape[0])
    kk = None if k is None else min(k, S.shape[1])
    by_sorting = sum(_ranking._row_average_precision(row, rel, kk) for row, rel in zip(S, relevance.mask(rows, S.shape[1])))
    by_argsort = _ranking._average_precision_rows(relevance.sorted(rows, _ranking._rank_block(S, kk))).sum()
    assert by_sorting == pytest.approx(by_argsort, abs=1e-12)
    assert _ranking._average_precision_torch(rows, S, relevance, kk, "cpu").sum() == pytest.approx(by_argsort, abs=1e-12)


def test_parallel_blocks_equal_sequential(data):
    from skcross.metrics import cross_modal_map

    X_img, X_txt, y, model = data
    assert cross_modal_map(model, X_img, X_txt, y, n_jobs=2) == cross_modal_map(model, X_img, X_txt, y)


def test_the_gallery_is_normalised_once_and_refreshed_by_add(data, monkeypatch):
    import skcross.retrieval as retrieval

    X_img, X_txt, _, model = data
    calls = []
    real = retrieval.normalize
    monkeypatch.setattr(retrieval, "normalize", lambda X, *a, **k: calls.append(len(X)) or real(X, *a, **k))
    index = CrossModalIndex(model, batch_size=16).add(X_txt[:200], modality="text")
    for _ in range(3):
        index.search(X_img[:40], k=5)  # 3 searches x 3 query batches x 13 gallery blocks
    assert calls.count(200) == 1  # the gallery, once
    index.add(X_txt[200:], modality="text")
    _, ids = index.search(X_img[:40], k=5)
    assert calls.count(len(X_txt)) == 1  # refreshed after add
    np.testing.assert_array_equal(ids, brute_force(model.similarity(X_img[:40], X_txt), 5)[1])
