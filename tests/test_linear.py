import numpy as np
import pytest
import scipy.linalg
from sklearn.cross_decomposition import PLSSVD
from sklearn.utils._param_validation import InvalidParameterError

from skcross.datasets import make_cross_modal
from skcross.linear import CCA, MLCCA, PLS


@pytest.fixture
def data():
    return make_cross_modal(300, n_features_image=12, n_features_text=7, random_state=0)


def reference_canonical_correlations(X, Y):
    """Classical CCA through Cholesky whitening of the covariance matrices."""
    X = (X - X.mean(0)) / X.std(0, ddof=1)
    Y = (Y - Y.mean(0)) / Y.std(0, ddof=1)
    n = len(X)
    Cxx, Cyy, Cxy = X.T @ X / (n - 1), Y.T @ Y / (n - 1), X.T @ Y / (n - 1)
    Lx, Ly = np.linalg.cholesky(Cxx), np.linalg.cholesky(Cyy)
    M = scipy.linalg.solve_triangular(Lx, Cxy, lower=True)
    M = scipy.linalg.solve_triangular(Ly, M.T, lower=True).T
    return np.linalg.svd(M, compute_uv=False)


def test_cca_matches_classical_solution(data):
    X_img, X_txt, _ = data
    cca = CCA(n_components=5, reg=0).fit(X_img, X_txt)
    np.testing.assert_allclose(cca.canonical_correlations_, reference_canonical_correlations(X_img, X_txt)[:5], rtol=1e-8)
    U, V = cca.transform_image(X_img), cca.transform_text(X_txt)
    # unit variance, uncorrelated components, and corr(U_j, V_j) = rho_j
    np.testing.assert_allclose(np.cov(U.T), np.eye(5), atol=1e-8)
    np.testing.assert_allclose(np.cov(V.T), np.eye(5), atol=1e-8)
    np.testing.assert_allclose(np.diag(np.cov(U.T, V.T)[:5, 5:]), cca.canonical_correlations_, rtol=1e-8)


def test_cca_regularisation_shrinks_correlations(data):
    X_img, X_txt, _ = data
    rho = [CCA(3, reg=reg).fit(X_img, X_txt).canonical_correlations_[0] for reg in (0, 0.1, 10)]
    assert rho[0] > rho[1] > rho[2] > 0


def test_cca_more_features_than_samples():
    X_img, X_txt, _ = make_cross_modal(40, n_features_image=500, n_features_text=300, random_state=0)
    cca = CCA(n_components=8, reg=1e-2).fit(X_img, X_txt)
    assert np.isfinite(cca.image_weights_).all() and np.isfinite(cca.text_weights_).all()
    assert np.all(cca.canonical_correlations_ <= 1 + 1e-10)
    assert cca.transform_image(X_img).shape == (40, 8)
    with pytest.warns(UserWarning, match="exceeds the rank of the problem.*fitting 39 components"):
        clipped = CCA(n_components=40).fit(X_img, X_txt)
    assert clipped.n_components_ == 39 and clipped.transform_image(X_img).shape == (40, 39)
    largest = CCA(n_components=None).fit(X_img, X_txt)
    np.testing.assert_allclose(largest.transform_image(X_img), clipped.transform_image(X_img))


def test_pls_matches_scikit_learn_plssvd(data):
    X_img, X_txt, _ = data
    ours = PLS(n_components=4).fit(X_img, X_txt)
    ref = PLSSVD(n_components=4).fit(X_img, X_txt)
    for a, b in ((ours.image_weights_, ref.x_weights_), (ours.text_weights_, ref.y_weights_)):
        np.testing.assert_allclose(np.abs(a.T @ b), np.eye(4), atol=1e-8)


def test_pls_without_scaling_uses_raw_covariance(data):
    X_img, X_txt, _ = data
    pls = PLS(n_components=2, scale=False).fit(X_img, X_txt)
    C = (X_img - X_img.mean(0)).T @ (X_txt - X_txt.mean(0)) / (len(X_img) - 1)
    np.testing.assert_allclose(pls.singular_values_, np.linalg.svd(C, compute_uv=False)[:2])


def test_signs_are_deterministic(data):
    X_img, X_txt, _ = data
    a = CCA(3).fit(X_img, X_txt)
    b = CCA(3).fit(X_img[::-1], X_txt[::-1])  # same data, other row order
    np.testing.assert_allclose(a.image_weights_, b.image_weights_, atol=1e-10)


@pytest.mark.parametrize("est", [CCA(reg=-1.0), CCA(n_components=0), CCA(scale="yes"), PLS(n_components=1.5)])
def test_invalid_parameters(data, est):
    with pytest.raises(InvalidParameterError):
        est.fit(*data)


def test_needs_two_pairs():
    with pytest.raises(ValueError, match="at least 2 pairs"):
        CCA(1).fit(np.ones((1, 3)), np.ones((1, 2)))


# --------------------------------------------------------------------------- real data
def test_wikipedia_cca_matches_independent_reference(shared_datasets):
    """Our CCA reproduces the dataset sidecar's own regularised CCA (same definition)."""
    from skcross.datasets import load_dataset
    from skcross.metrics import cross_modal_map

    d = load_dataset("wikipedia", data_home=shared_datasets, download_if_missing=False)
    reference = d.metadata["sanity_check"]  # StandardScaler + ridge 1e-3 x mean variance, k=10
    scores = cross_modal_map(CCA(n_components=10).fit(d.X_img_train, d.X_txt_train), d.X_img_test, d.X_txt_test, d.y_test)
    assert scores["i2t"] == pytest.approx(reference["cca_i2t"], abs=1e-3)
    assert scores["t2i"] == pytest.approx(reference["cca_t2i"], abs=1e-3)


def test_wikipedia_cca_reaches_correlation_matching_with_cv_ridge(shared_datasets):
    """Rasiwasia et al. 2010 report CM (CCA) at 0.249 i2t / 0.196 t2i; the ridge is tuned on train only."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from skcross import paired
    from skcross.datasets import load_dataset
    from skcross.metrics import cross_modal_map, get_scorer

    d = load_dataset("wikipedia", data_home=shared_datasets, download_if_missing=False)
    search = GridSearchCV(
        CCA(n_components=10),
        {"reg": [1e-3, 0.1, 1.0, 10.0]},
        scoring=get_scorer("map"),
        cv=StratifiedKFold(5, shuffle=True, random_state=0),
    ).fit(paired(d.X_img_train, d.X_txt_train), d.y_train)
    scores = cross_modal_map(search.best_estimator_, d.X_img_test, d.X_txt_test, d.y_test)
    assert scores["i2t"] >= 0.249 and scores["t2i"] >= 0.196, scores


# --------------------------------------------------------------------------- canonical correlations
def test_canonical_correlations_renamed(small_data):
    X_img, X_txt, y = small_data
    cca = CCA(2).fit(X_img, X_txt)
    assert np.all((cca.canonical_correlations_ > 0) & (cca.canonical_correlations_ <= 1))
    with pytest.warns(FutureWarning, match="canonical_correlations_"):
        np.testing.assert_array_equal(cca.singular_values_, cca.canonical_correlations_)
    assert hasattr(MLCCA(2).fit(X_img, X_txt, y), "canonical_correlations_")
    assert hasattr(PLS(2).fit(X_img, X_txt), "singular_values_")  # PLS's are singular values
    assert not hasattr(PLS(2).fit(X_img, X_txt), "canonical_correlations_")
