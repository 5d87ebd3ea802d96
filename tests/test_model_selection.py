"""End-to-end use with scikit-learn's Pipeline and model-selection tools."""

import numpy as np
import pytest
import sklearn
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline

from skcross import paired
from skcross.datasets import make_cross_modal
from skcross.linear import CCA, PLS
from skcross.metrics import cross_modal_map, get_scorer
from skcross.preprocessing import ModalityTransformer


@pytest.fixture(scope="module")
def data():
    X_img, X_txt, y = make_cross_modal(240, random_state=0)
    return paired(X_img, X_txt), y


def test_grid_search_pipeline_with_pca(data):
    X, y = data
    pipe = make_pipeline(ModalityTransformer(image=PCA(0.95), text=None), CCA())
    grid = {"cca__n_components": [2, 4, 8], "modalitytransformer__image__n_components": [0.9, 0.95]}
    search = GridSearchCV(pipe, grid, scoring=get_scorer("map"), cv=3, n_jobs=2).fit(X, y)
    assert set(search.best_params_) == set(grid)
    assert len(search.cv_results_["mean_test_score"]) == 6
    # The refitted pipeline scores the same through the scorer and through cross_modal_map.
    best = search.best_estimator_
    Z = best[0].transform(X)
    expected = cross_modal_map(best[-1], Z.image, Z.text, y)["mean"]
    assert search.score(X, y) == pytest.approx(expected)
    assert best.score(X, y) == pytest.approx(expected)
    # Sequential and parallel searches agree.
    serial = GridSearchCV(pipe, grid, scoring=get_scorer("map"), cv=3, n_jobs=1).fit(X, y)
    np.testing.assert_allclose(serial.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"])


def test_default_scoring_is_mean_map(data):
    X, y = data
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    default = cross_val_score(CCA(4), X, y, cv=cv, n_jobs=2)
    explicit = cross_val_score(CCA(4), X, y, cv=cv, scoring=get_scorer("map"))
    np.testing.assert_allclose(default, explicit)
    assert np.all((0 < default) & (default <= 1))


def test_cross_validate_multiple_scorers(data):
    X, y = data
    scoring = {"map": get_scorer("map"), "map_i2t": get_scorer("map_i2t"), "map@10": get_scorer("map@10")}
    result = cross_validate(PLS(4), X, y, cv=3, n_jobs=2, scoring=scoring)
    for name in scoring:
        assert result[f"test_{name}"].shape == (3,)


def test_recall_scorer_on_pairs_only(data):
    """With no labels (y=None) the only relevant item is the query's own pair."""
    X, _ = data
    search = GridSearchCV(CCA(), {"n_components": [2, 8]}, scoring=get_scorer("recall@5"), cv=3).fit(X)
    assert 0 < search.best_score_ <= 1


def test_grid_search_with_sparse_bag_of_words_text():
    import scipy.sparse as sp
    from sklearn.decomposition import TruncatedSVD

    X_img, X_txt, y = make_cross_modal(150, random_state=1)
    counts = sp.csr_matrix(np.random.default_rng(0).poisson(np.exp(X_txt / 2)))
    X = paired(X_img, counts)
    pipe = make_pipeline(ModalityTransformer(text=TruncatedSVD(10, random_state=0)), CCA())
    search = GridSearchCV(pipe, {"cca__n_components": [2, 4]}, cv=3, n_jobs=2).fit(X, y)
    assert 0 < search.best_score_ <= 1


# --------------------------------------------------------------------------- metadata routing
def test_data_is_not_metadata_and_searches_run_with_routing_enabled(small_data):
    X_img, X_txt, y = small_data
    for method in ("fit", "score"):
        requests = CCA().get_metadata_routing().consumes(method, ["X_img", "X_txt"])
        assert requests == set(), f"{method} requests its data as metadata"
    scorer = get_scorer("map")
    assert scorer.set_score_request() is scorer
    with pytest.raises(TypeError, match="takes no metadata"):
        scorer.set_score_request(sample_weight=True)
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(CCA(), {"n_components": [2, 3]}, scoring=scorer, cv=3).fit(paired(X_img, X_txt), y)
    assert 0 < search.best_score_ <= 1
