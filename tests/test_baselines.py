"""KCCA, SM/SCM, GMLDA/GMMFA and ml-CCA: their math and their behaviour."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics.pairwise import rbf_kernel

from skcross.datasets import make_cross_modal
from skcross.linear import CCA, GMLDA, GMMFA, KCCA, MLCCA, SCM, SM
from skcross.metrics import cross_modal_map


@pytest.fixture(scope="module")
def split():
    X_img, X_txt, y = make_cross_modal(600, n_classes=5, random_state=0)
    return (X_img[:400], X_txt[:400], y[:400]), (X_img[400:], X_txt[400:], y[400:])


# --------------------------------------------------------------------------- KCCA
def test_linear_kernel_kcca_is_cca(split):
    (X_img, X_txt, _), _ = split
    kcca = KCCA(5, kernel="linear", reg=0).fit(X_img, X_txt)
    cca = CCA(5, reg=0, scale=False).fit(X_img, X_txt)
    np.testing.assert_allclose(kcca.canonical_correlations_, cca.canonical_correlations_, rtol=1e-6)


def test_exact_feature_map_reproduces_the_kernel(split):
    (X_img, X_txt, _), _ = split
    kcca = KCCA(3, gamma=0.05, nystroem_components=None).fit(X_img, X_txt)
    features = kcca._image_map(X_img)
    np.testing.assert_allclose(features @ features.T, rbf_kernel(X_img, gamma=0.05), atol=1e-6)


def test_precomputed_kernel_matches_rbf(split):
    (X_img, X_txt, _), (T_img, T_txt, _) = split
    kcca = KCCA(4, gamma=0.05).fit(X_img, X_txt)
    pre = KCCA(4, kernel="precomputed").fit(rbf_kernel(X_img, gamma=0.05), rbf_kernel(X_txt, gamma=0.05))
    np.testing.assert_allclose(
        np.abs(pre.transform_image(rbf_kernel(T_img, X_img, gamma=0.05))),
        np.abs(kcca.transform_image(T_img)),
        rtol=1e-5,
        atol=1e-8,
    )
    with pytest.raises(ValueError, match="square training kernel"):
        KCCA(2, kernel="precomputed").fit(X_img, X_txt)


def test_nystroem_approaches_exact(split):
    (X_img, X_txt, y), (T_img, T_txt, t) = split
    exact = cross_modal_map(KCCA(4, nystroem_components=None).fit(X_img, X_txt), T_img, T_txt, t)["mean"]
    approx = cross_modal_map(KCCA(4, nystroem_components=200, random_state=0).fit(X_img, X_txt), T_img, T_txt, t)
    assert approx["mean"] == pytest.approx(exact, abs=0.05)
    kcca = KCCA(4, nystroem_components=50, random_state=0).fit(X_img, X_txt)
    assert kcca._image_map.normalisation.shape[0] == 50


def test_gamma_heuristics(split):
    (X_img, X_txt, _), _ = split
    kcca = KCCA(2, gamma="scale", nystroem_components=50, random_state=0).fit(X_img, X_txt)
    assert kcca.gamma_image_ == pytest.approx(1 / (X_img.shape[1] * X_img.var()))
    kcca = KCCA(2, nystroem_components=50, random_state=0).fit(X_img, X_txt)
    assert kcca.gamma_image_ > 0 and kcca.gamma_text_ > 0 and kcca.gamma_image_ != kcca.gamma_text_


def test_chi2_kernel_for_histograms(split):
    from sklearn.metrics.pairwise import additive_chi2_kernel

    (X_img, X_txt, _), (T_img, _, _) = split
    H_img, H_txt = np.exp(X_img), np.exp(X_txt)  # non-negative, histogram-like
    kcca = KCCA(3, kernel="chi2", nystroem_components=100, random_state=0).fit(H_img, H_txt)
    assert kcca.transform_image(np.exp(T_img)).shape == (200, 3)
    # "median" uses chi-squared distances for this kernel
    distances = -additive_chi2_kernel(H_img)
    assert kcca.gamma_image_ == pytest.approx(1 / np.median(distances[np.triu_indices(400, 1)]))
    with pytest.raises(ValueError, match="negative"):
        KCCA(2, kernel="chi2").fit(X_img, X_txt)


# --------------------------------------------------------------------------- SM / SCM
def test_sm_fits_unpaired_data(split):
    (X_img, X_txt, y), (T_img, T_txt, t) = split
    sm = SM().fit(X_img[:300], X_txt[100:], (y[:300], y[100:]))
    assert sm.transform_image(T_img).shape == (200, 5)
    np.testing.assert_allclose(sm.transform_text(T_txt).sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="same classes"):
        SM().fit(X_img, X_txt, (y, np.where(y == 4, 3, y)))
    with pytest.raises(ValueError, match="y=\\(y_img, y_txt\\)"):
        SM().fit(X_img[:300], X_txt, y[:300])
    with pytest.raises(ValueError, match="unpaired"):
        SCM(2).fit(X_img, X_txt, (y, y))


def test_centered_correlation_metric(split):
    (X_img, X_txt, y), (T_img, T_txt, _) = split
    sm = SM(metric="centered_correlation").fit(X_img, X_txt, y)
    P, Q = sm.transform_image(T_img[:5]), sm.transform_text(T_txt[:4])
    expected = np.array([[np.corrcoef(p, q)[0, 1] for q in Q] for p in P])
    np.testing.assert_allclose(sm.similarity(T_img[:5], T_txt[:4]), expected)


@pytest.mark.parametrize(
    "estimator",
    [SM(), SCM(4), SCM(4, subspace="pls"), GMLDA(4), GMMFA(4, n_neighbors=10, n_margin_pairs=100), MLCCA(4)],
    ids=repr,
)
def test_supervised_methods_beat_cca_on_synthetic_data(split, estimator):
    (X_img, X_txt, y), (T_img, T_txt, t) = split
    cca = cross_modal_map(CCA(4).fit(X_img, X_txt), T_img, T_txt, t)["mean"]
    assert cross_modal_map(estimator.fit(X_img, X_txt, y), T_img, T_txt, t)["mean"] > cca


# --------------------------------------------------------------------------- GMA
def test_gma_solves_its_generalized_eigenproblem(split):
    (X_img, X_txt, y), _ = split
    gmlda = GMLDA(3, alpha=0.0).fit(X_img, X_txt, y)
    # With no coupling the views decouple: each image direction solves S_b v = lambda S_w v.
    Xc = X_img - X_img.mean(0)
    means = np.stack([Xc[y == c].mean(0) for c in range(5)])
    S_w = sum((Xc[y == c] - means[c]).T @ (Xc[y == c] - means[c]) for c in range(5))
    S_b = (means * np.bincount(y)[:, None]).T @ means
    image_directions = [v for v in gmlda.image_weights_.T if np.linalg.norm(v) > 1e-8]
    assert image_directions  # others belong to the text view
    for v in image_directions:
        lhs, rhs = S_b @ v, (S_w + 1e-3 * np.trace(S_w) / len(S_w) * np.eye(len(S_w))) @ v
        ratio = lhs @ v / (rhs @ v)
        np.testing.assert_allclose(lhs, ratio * rhs, rtol=1e-6, atol=1e-8 * np.abs(lhs).max())


def test_gma_rejects_bad_input(split):
    (X_img, X_txt, y), _ = split
    with pytest.raises(ValueError, match="at least 2 classes"):
        GMLDA(2).fit(X_img, X_txt, np.zeros_like(y))
    with pytest.warns(UserWarning, match="exceeds the total number of features"):
        gmlda = GMLDA(500).fit(X_img, X_txt, y)
    assert gmlda.n_components_ == X_img.shape[1] + X_txt.shape[1]


@pytest.mark.parametrize("estimator", [GMLDA(3), GMMFA(3, n_neighbors=10, n_margin_pairs=40)], ids=repr)
def test_gma_one_hot_indicator_equals_class_labels(split, estimator):
    """The multi-label scatters reduce to the single-label ones when every item carries one label."""
    (X_img, X_txt, y), (T_img, _, _) = split
    a = clone(estimator).fit(X_img, X_txt, y).transform_image(T_img)
    b = clone(estimator).fit(X_img, X_txt, np.eye(5, dtype=np.uint8)[y]).transform_image(T_img)
    np.testing.assert_allclose(a, b, atol=1e-10)


def test_gmlda_multilabel_scatter_by_hand():
    """Wang et al. (2010): an item with m labels adds 1/m to each of its classes' mean and scatter."""
    X_img, X_txt, Y = make_cross_modal(300, n_classes=4, multilabel=True, random_state=3)
    gmlda = GMLDA(3, alpha=0.0).fit(X_img, X_txt, Y)
    Xc = X_img - X_img.mean(0)
    W = Y / np.maximum(Y.sum(1, keepdims=True), 1)
    counts = W.sum(0)
    means = (W.T @ Xc) / counts[:, None]
    overall = counts @ means / counts.sum()
    S_b = sum(n * np.outer(m - overall, m - overall) for n, m in zip(counts, means))
    S_w = sum(W[i, k] * np.outer(Xc[i] - means[k], Xc[i] - means[k]) for i in range(len(Xc)) for k in range(4))
    for v in (v for v in gmlda.image_weights_.T if np.linalg.norm(v) > 1e-8):
        lhs, rhs = S_b @ v, (S_w + 1e-3 * np.trace(S_w) / len(S_w) * np.eye(len(S_w))) @ v
        np.testing.assert_allclose(lhs, (lhs @ v / (rhs @ v)) * rhs, rtol=1e-6, atol=1e-8 * np.abs(lhs).max())


def test_sm_multilabel_posteriors_are_per_label_logistic_regressions():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X_img, X_txt, Y = make_cross_modal(300, n_classes=4, multilabel=True, random_state=3)
    Y = np.column_stack([Y, np.zeros(len(Y), dtype=Y.dtype)])  # a label nobody carries: posterior 0
    sm = SM().fit(X_img, X_txt, Y)
    Z = sm.transform_image(X_img[:20])
    assert Z.shape == (20, 5) and sm.classes_.tolist() == [0, 1, 2, 3, 4]
    for j in range(4):
        expected = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_img, Y[:, j])
        np.testing.assert_allclose(Z[:, j], expected.predict_proba(X_img[:20])[:, 1], rtol=1e-6)
    np.testing.assert_array_equal(Z[:, 4], 0.0)
    with pytest.raises(ValueError, match="same labels"):
        SM().fit(X_img, X_txt, (Y, Y[:, :3]))


@pytest.mark.parametrize("estimator", [SM(), SCM(5), GMLDA(5), GMMFA(5, n_neighbors=10, n_margin_pairs=50)],
                         ids=lambda e: type(e).__name__)
def test_label_aware_baselines_learn_from_multilabel_data(estimator):
    X_img, X_txt, Y = make_cross_modal(600, n_classes=6, multilabel=True, random_state=0)
    tr, te = slice(0, 400), slice(400, None)
    cca = cross_modal_map(CCA(5).fit(X_img[tr], X_txt[tr]), X_img[te], X_txt[te], Y[te])["mean"]
    model = clone(estimator).fit(X_img[tr], X_txt[tr], Y[tr])
    assert cross_modal_map(model, X_img[te], X_txt[te], Y[te])["mean"] > cca + 0.03


# --------------------------------------------------------------------------- ml-CCA
def test_mlcca_multilabel_beats_cca():
    X_img, X_txt, Y = make_cross_modal(700, n_classes=6, multilabel=True, n_labels=3, random_state=2)
    tr, te = slice(0, 500), slice(500, None)
    cca = cross_modal_map(CCA(5).fit(X_img[tr], X_txt[tr]), X_img[te], X_txt[te], Y[te])["mean"]
    ml = cross_modal_map(MLCCA(5).fit(X_img[tr], X_txt[tr], Y[tr]), X_img[te], X_txt[te], Y[te])["mean"]
    assert ml > cca


def test_mlcca_single_label_equals_one_hot(split):
    (X_img, X_txt, y), (T_img, _, _) = split
    a = MLCCA(3).fit(X_img, X_txt, y).transform_image(T_img)
    b = MLCCA(3).fit(X_img, X_txt, np.eye(5, dtype=np.uint8)[y]).transform_image(T_img)
    np.testing.assert_allclose(a, b)


def test_mlcca_default_uses_the_largest_valid_rank(split):
    """Single-label y with c classes gives a rank of c - 1: the default must not fail."""
    (X_img, X_txt, y), _ = split
    n_classes = len(np.unique(y))
    mlcca = MLCCA().fit(X_img, X_txt, y)
    assert mlcca.n_components_ == n_classes - 1
    assert mlcca.transform_text(X_txt).shape == (len(y), n_classes - 1)
    with pytest.warns(UserWarning, match="rank of the cross-covariance"):
        assert MLCCA(n_classes + 3).fit(X_img, X_txt, y).n_components_ == n_classes - 1


# --------------------------------------------------------------------------- Wikipedia
@pytest.fixture(scope="module")
def wikipedia():
    from conftest import shared_datasets_dir

    from skcross.datasets import load_dataset

    path = shared_datasets_dir()
    if not (path / "wikipedia_sift128_lda10.npz").exists():
        pytest.skip(f"real benchmark features not found in {path} (set SKCROSS_SHARED_DATASETS)")
    return load_dataset("wikipedia", data_home=path, download_if_missing=False)


def _test_map(estimator, d):
    return cross_modal_map(estimator, d.X_img_test, d.X_txt_test, d.y_test)


def test_wikipedia_sm_matches_dataset_reference(wikipedia):
    reference = wikipedia.metadata["sanity_check"]
    scores = _test_map(SM().fit(wikipedia.X_img_train, wikipedia.X_txt_train, wikipedia.y_train), wikipedia)
    assert scores["i2t"] == pytest.approx(reference["sm_logreg_i2t"], abs=2e-3)
    assert scores["t2i"] == pytest.approx(reference["sm_logreg_t2i"], abs=2e-3)


def test_wikipedia_scm_gains_over_cca_in_both_directions(wikipedia):
    d = wikipedia
    cca = _test_map(CCA(10).fit(d.X_img_train, d.X_txt_train), d)
    scm = _test_map(SCM(10).fit(d.X_img_train, d.X_txt_train, d.y_train), d)
    assert scm["i2t"] > cca["i2t"] + 0.02 and scm["t2i"] > cca["t2i"] + 0.02, (scm, cca)


@pytest.mark.parametrize("estimator", [GMLDA(10), GMMFA(10)], ids=repr)
def test_wikipedia_gma_beats_cca(wikipedia, estimator):
    d = wikipedia
    cca = _test_map(CCA(10).fit(d.X_img_train, d.X_txt_train), d)
    gma = _test_map(estimator.fit(d.X_img_train, d.X_txt_train, d.y_train), d)
    assert gma["mean"] > cca["mean"], (gma, cca)


def test_wikipedia_chi2_kcca_beats_cca(wikipedia):
    """With the regularisation CV on train picked for both (benchmarks/bench_classical.py)."""
    d = wikipedia
    cca = _test_map(CCA(10, reg=1.0).fit(d.X_img_train, d.X_txt_train), d)
    kcca = KCCA(10, kernel="chi2", reg=3.0, nystroem_components=1000, random_state=0)
    scores = _test_map(kcca.fit(d.X_img_train, d.X_txt_train), d)
    assert scores["i2t"] > cca["i2t"] and scores["t2i"] > cca["t2i"], (scores, cca)
