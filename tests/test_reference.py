"""SSM-AL: k-medoids references, oracle pairing, reference-based representation."""

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("sklearn_extra")

from sklearn.cluster import KMeans  # noqa: E402

from skcross.datasets import make_cross_modal  # noqa: E402
from skcross.linear import CCA  # noqa: E402
from skcross.metrics import cross_modal_map  # noqa: E402
from skcross.reference import SSMAL  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return make_cross_modal(500, n_classes=5, random_state=0)


def test_references_are_medoids_and_their_partners(data):
    X_img, X_txt, _ = data
    model = SSMAL(n_references=12, random_state=0).fit(X_img, X_txt)
    assert model.n_queries_ == 12 and len(set(model.reference_indices_)) == 12
    np.testing.assert_array_equal(model.reference_indices_, model.clusterer_.medoid_indices_)
    np.testing.assert_array_equal(model.partner_indices_, model.reference_indices_)  # default oracle
    np.testing.assert_array_equal(model.references_text_, X_txt[model.reference_indices_])
    np.testing.assert_array_equal(model.references_image_, X_img[model.reference_indices_])


def test_representation_is_cosine_to_references(data):
    X_img, X_txt, _ = data
    model = SSMAL(n_references=8, reference_modality="image", random_state=0).fit(X_img, X_txt)
    refs = X_img[model.reference_indices_]
    expected = (X_img[:5] / np.linalg.norm(X_img[:5], axis=1, keepdims=True)) @ (
        refs / np.linalg.norm(refs, axis=1, keepdims=True)
    ).T
    np.testing.assert_allclose(model.transform_image(X_img[:5]), expected)


def test_pearson_metric_and_centering(data):
    X_img, X_txt, y = data
    cosine = SSMAL(n_references=10, metric="cosine", random_state=0).fit(X_img, X_txt)
    pearson = SSMAL(n_references=10, random_state=0).fit(X_img, X_txt)
    assert pearson.metric == "pearson"  # the default: better than eq. 33 on real data
    Z_i, Z_t = pearson.transform_image(X_img[:4]), pearson.transform_text(X_txt[:3])
    expected = np.array([[np.corrcoef(a, b)[0, 1] for b in Z_t] for a in Z_i])
    np.testing.assert_allclose(pearson.similarity(X_img[:4], X_txt[:3]), expected)
    assert not np.allclose(cosine.similarity(X_img[:4], X_txt[:3]), expected)
    centred = SSMAL(n_references=10, center=True, random_state=0).fit(X_img, X_txt)
    assert np.abs(centred.transform_text(X_txt).mean()) < np.abs(cosine.transform_text(X_txt).mean())


def test_user_oracle_with_unpaired_modalities(data):
    X_img, X_txt, _ = data
    shuffle = np.random.RandomState(0).permutation(len(X_img))
    calls = []

    def oracle(indices):  # a "person" who knows the true pairing of the shuffled images
        calls.append(indices.copy())
        return np.argsort(shuffle)[indices]

    model = SSMAL(n_references=10, oracle=oracle, random_state=0).fit(X_img[shuffle], X_txt[:-50])
    assert len(calls) == 1 and len(calls[0]) == 10 and model.n_queries_ == 10
    np.testing.assert_array_equal(model.references_image_, X_img[model.reference_indices_])
    with pytest.raises(ValueError, match="give an oracle"):
        SSMAL(n_references=10).fit(X_img[:-50], X_txt)
    with pytest.raises(ValueError, match="outside"):
        SSMAL(n_references=5, oracle=lambda i: i + 10_000, random_state=0).fit(X_img, X_txt)
    with pytest.raises(ValueError, match="integer indices"):
        SSMAL(n_references=5, oracle=lambda i: i[:2], random_state=0).fit(X_img, X_txt)


def test_unpaired_pools_join_the_clustering(data):
    X_img, X_txt, _ = data
    pool = X_txt[100:]
    model = SSMAL(n_references=10, random_state=0, oracle=lambda i: np.where(i < 100, i, i))
    model.fit(X_img, X_txt[:100], X_txt_unpaired=pool)
    assert model.clusterer_.labels_.shape == (500,)  # 100 coupled + 400 pooled texts clustered
    with pytest.raises(ValueError, match="unpaired items"):
        SSMAL(n_references=10, random_state=0).fit(X_img[:100], X_txt[:100], X_txt_unpaired=pool)
    with pytest.raises(ValueError, match="X_txt_unpaired has 5 features"):
        SSMAL(n_references=3).fit(X_img, X_txt, X_txt_unpaired=pool[:, :5])
    with pytest.raises(TypeError, match="unexpected keyword"):
        SSMAL(n_references=3).fit(X_img, X_txt, X_unpaired=pool)


def test_any_clusterer_with_medoid_indices(data):
    X_img, X_txt, _ = data

    class KMeansMedoids(KMeans):
        def fit(self, X, y=None):
            super().fit(X)
            d = ((X[:, None, :] - self.cluster_centers_[None]) ** 2).sum(-1)
            self.medoid_indices_ = d.argmin(axis=0)
            return self

    model = SSMAL(n_references=6, clusterer=KMeansMedoids(6, n_init=1, random_state=0)).fit(X_img, X_txt)
    assert model.n_queries_ == 6


def test_pam_and_sparse_text(data):
    X_img, X_txt, y = data
    counts = sp.csr_matrix(np.random.default_rng(0).poisson(np.exp(X_txt[:150] / 2)))
    model = SSMAL(n_references=5, method="pam", random_state=0).fit(X_img[:150], counts)
    assert model.transform_text(counts).shape == (150, 5)


def test_synthetic_few_pairs_are_learnable(data):
    """Well above chance with 20 pairs. (On make_cross_modal, whose modalities share a
    strong linear structure, CCA on the same 20 pairs does better still; the paper's
    claim is checked on Wikipedia below.)"""
    X_img, X_txt, y = data
    model = SSMAL(n_references=20, random_state=0).fit(X_img[:400], X_txt[:400])
    assert cross_modal_map(model, X_img[400:], X_txt[400:], y[400:])["mean"] > 0.4  # chance ~0.2


def test_wikipedia_few_pairs_beat_cca_on_the_same_pairs():
    """The paper's protocol: 50 coupled pairs, the rest uncoupled; SSM-ALT beats CCA on those pairs."""
    from conftest import shared_datasets_dir

    from skcross.datasets import load_dataset

    path = shared_datasets_dir()
    if not (path / "wikipedia_sift128_lda10.npz").exists():
        pytest.skip(f"real benchmark features not found in {path} (set SKCROSS_SHARED_DATASETS)")
    d = load_dataset("wikipedia", data_home=path, download_if_missing=False)
    model = SSMAL(n_references=50, metric="pearson", random_state=0).fit(d.X_img_train, d.X_txt_train)
    ssmal = cross_modal_map(model, d.X_img_test, d.X_txt_test, d.y_test)
    pairs = model.reference_indices_
    for reg in (1e-3, 1.0):
        cca = CCA(10, reg=reg).fit(d.X_img_train[pairs], d.X_txt_train[pairs])
        scores = cross_modal_map(cca, d.X_img_test, d.X_txt_test, d.y_test)
        assert ssmal["i2t"] > scores["i2t"] and ssmal["t2i"] > scores["t2i"], (ssmal, scores)


def test_default_clusterer_works_on_a_subset_above_its_limit(data, monkeypatch):
    """Above the limit (20,000 items; KMedoids crashed the process at 30,000) the medoids come from a seeded subset."""
    from skcross.reference import _ssmal

    X_img, X_txt, _ = data
    monkeypatch.setattr(_ssmal, "_KMEDOIDS_MAX_ITEMS", 60)
    model = SSMAL(n_references=5, random_state=0).fit(X_img, X_txt)
    assert len(model.clusterer_.labels_) == 60  # clustered 60 of the rows
    medoids = model.reference_indices_
    assert medoids.max() < len(X_txt) and len(set(medoids)) == 5
    np.testing.assert_array_equal(model.references_text_, X_txt[medoids])  # rows of the whole set
    again = SSMAL(n_references=5, random_state=0).fit(X_img, X_txt)
    np.testing.assert_array_equal(again.reference_indices_, medoids)  # seeded
    monkeypatch.setattr(_ssmal, "_KMEDOIDS_MAX_ITEMS", 10_000)
    assert len(SSMAL(n_references=5, random_state=0).fit(X_img, X_txt).clusterer_.labels_) == len(X_txt)
