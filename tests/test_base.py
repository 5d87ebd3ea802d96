import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skcross import PairedData, paired
from skcross.base import CrossModalMixin, check_modality, unpack_paired
from skcross.datasets import make_cross_modal
from skcross.linear import CCA
from skcross.metrics import cross_modal_map, get_scorer, mean_average_precision
from skcross.pipeline import make_pipeline
from skcross.preprocessing import ModalityTransformer


@pytest.fixture
def data():
    return make_cross_modal(80, n_features_image=10, n_features_text=6, random_state=0)


def test_unpack_forms(data):
    X_img, X_txt, y = data
    for args, kwargs in [((X_img, X_txt, y), {}), ((paired(X_img, X_txt), y), {}), ((paired(X_img, X_txt),), {"y": y})]:
        a, b, labels = unpack_paired(*args, **kwargs)
        assert a is X_img and b is X_txt and labels is y
    with pytest.raises(TypeError, match="second positional argument is y"):
        unpack_paired(paired(X_img, X_txt), y, y)
    with pytest.raises(TypeError, match="needs X_txt"):
        unpack_paired(X_img)
    with pytest.raises(TypeError, match="as X_txt"):
        unpack_paired(X_img, paired(X_img, X_txt))


@pytest.mark.parametrize(
    "X, message",
    [
        ([[1.0, np.nan]], "X_img contains NaN"),
        ([[1.0, np.inf]], "X_img contains infinity"),
        (np.zeros((0, 3)), "X_img is empty"),
        (np.zeros((3, 0)), "X_img is empty"),
        (np.zeros(3), "X_img must be a 2-D"),
        (np.zeros((2, 2, 2)), "X_img must be a 2-D"),
        ([["a", "b"]], "X_img"),
    ],
)
def test_check_modality_errors(X, message):
    with pytest.raises(ValueError, match=message):
        check_modality(X, "X_img")


def test_check_modality_sparse():
    X = sp.random(5, 4, density=0.5, format="coo", random_state=0)
    assert check_modality(X, "X_txt").format == "csr"
    with pytest.raises(TypeError, match="Sparse data was passed for X_txt"):
        check_modality(X, "X_txt", accept_sparse=False)


def test_fit_errors_name_the_argument(data):
    X_img, X_txt, y = data
    with pytest.raises(ValueError, match="X_img has 80 rows and X_txt has 79"):
        CCA(2).fit(X_img, X_txt[:-1])
    with pytest.raises(ValueError, match="unpaired data"):
        CCA(2).fit(X_img, X_txt, (y, y))
    with pytest.raises(ValueError, match="y has 79 rows"):
        CCA(2).fit(X_img, X_txt, y[:-1])
    with pytest.raises(ValueError, match="0/1"):
        CCA(2).fit(X_img, X_txt, np.full((80, 3), 5))


def test_transform_errors(data):
    X_img, X_txt, y = data
    with pytest.raises(NotFittedError):
        CCA(2).transform_image(X_img)
    est = CCA(2).fit(X_img, X_txt, y)
    with pytest.raises(ValueError, match="X_txt has 5 features, but the estimator was fitted with 6"):
        est.transform_text(X_txt[:, :5])
    with pytest.raises(ValueError, match="X_img has 6 features"):
        est.transform_image(X_txt)
    with pytest.raises(TypeError, match="expects a PairedData"):
        est.transform(X_img)
    with pytest.raises(TypeError, match="needs X_txt"):
        est.score(X_img)


def test_similarity_is_cosine_of_embeddings(data):
    X_img, X_txt, y = data
    est = CCA(3).fit(X_img, X_txt)
    Z_img, Z_txt = est.transform_image(X_img), est.transform_text(X_txt)
    expected = (Z_img / np.linalg.norm(Z_img, axis=1, keepdims=True)) @ (
        Z_txt / np.linalg.norm(Z_txt, axis=1, keepdims=True)
    ).T
    np.testing.assert_allclose(est.similarity(X_img, X_txt), expected)


def test_sparse_text_matches_dense(data):
    X_img, X_txt, y = data
    X_txt = np.maximum(X_txt, 0)
    dense = CCA(3).fit(X_img, X_txt)
    sparse = CCA(3).fit(X_img, sp.csr_matrix(X_txt))
    np.testing.assert_allclose(sparse.transform_text(sp.csr_matrix(X_txt)), dense.transform_text(X_txt))


# ------------------------------------------------------------------ everyday-use messages
def test_fit_x_y_in_the_scikit_learn_habit_says_where_y_landed():
    from skcross.linear import SCM

    X_img, X_txt, y = make_cross_modal(60, random_state=0)
    stacked = np.hstack([X_img, X_txt])
    for call in (lambda: SCM().fit(stacked, y), lambda: CCA(2).fit(X_img, X_txt).score(stacked, y)):
        with pytest.raises(ValueError, match=r"y landed in X_txt.*paired\(X_img, X_txt\), y\)"):
            call()
    # raw sentences keep their own message; a real 2-D X_txt with y is untouched
    with pytest.raises(TypeError, match="raw text"):
        CCA(2).fit(X_img[:2], ["a cat", "a dog"])
    assert CCA(2).fit(X_img, X_txt, y).n_features_text_in_ == X_txt.shape[1]


def test_multilabel_refusal_names_the_estimator_and_those_that_take_it():
    from skcross.utils.validation import MULTILABEL_ESTIMATORS
    from skcross.linear import SCM
    from skcross.utils import all_estimators

    X_img, X_txt, Y = make_cross_modal(60, multilabel=True, random_state=0)
    pytest.importorskip("skorch")
    from skcross.deep import DSE

    with pytest.raises(ValueError, match=r"^DSE takes single-label data .* multi-label y: CCA, DCCA, DSCMR, GMLDA"):
        DSE(max_epochs=1).fit(X_img, X_txt, Y)
    assert set(MULTILABEL_ESTIMATORS) == {name for name, cls in all_estimators() if cls._allows_multilabel}
    with pytest.raises(ValueError, match="y is required: SCM is supervised"):
        SCM().fit(X_img, X_txt)


def test_pipeline_set_output_pandas_reaches_the_cross_modal_step():
    pd = pytest.importorskip("pandas")
    from sklearn.base import clone
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline

    from skcross.preprocessing import ModalityTransformer

    X_img, X_txt, y = make_cross_modal(60, random_state=0)
    frame = pd.DataFrame(X_img, index=np.arange(100, 160))
    pipe = make_pipeline(ModalityTransformer(image=PCA(5), text=PCA(4)), CCA(3)).set_output(transform="pandas")
    Z = clone(pipe).fit(paired(frame, X_txt), y).transform(paired(frame, X_txt))  # the setting survives clone
    assert isinstance(Z.image, pd.DataFrame) and isinstance(Z.text, pd.DataFrame)
    assert Z.image.columns.tolist() == ["cca0", "cca1", "cca2"] and Z.image.index[0] == 100
    plain = make_pipeline(ModalityTransformer(image=PCA(5), text=PCA(4)), CCA(3)).fit(paired(X_img, X_txt), y)
    np.testing.assert_allclose(Z.text.to_numpy(), plain.transform(paired(X_img, X_txt)).text)
    fitted = CCA(2).set_output(transform="pandas").fit_transform(paired(X_img, X_txt), y)
    assert isinstance(fitted.image, pd.DataFrame)
    assert isinstance(CCA(2).set_output(transform="pandas").fit(X_img, X_txt).transform_image(X_img), np.ndarray)
    assert isinstance(CCA(2).set_output(transform="default").fit_transform(paired(X_img, X_txt)).image, np.ndarray)
    with pytest.raises(ValueError, match="transform must be 'default', 'pandas', 'polars' or None, got 'arrow'"):
        CCA().set_output(transform="arrow")


def _ranking_cases():
    from skcross.utils import all_estimators
    from skcross.utils._testing import FAST_PARAMS

    cases = [cls(**FAST_PARAMS.get(name, {})) for name, cls in all_estimators()]
    variants = {"DSE": {"metric": "euclidean"}, "UNCSM": {"similarity_metric": "cosine"},
                "SCM": {"metric": "centered_correlation"}, "SSMAL": {"metric": "cosine"}}
    for name, cls in all_estimators():
        if name in variants:
            cases.append(cls(**{**FAST_PARAMS.get(name, {}), **variants[name]}))
    return cases


@pytest.mark.parametrize("estimator", _ranking_cases(), ids=lambda e: f"{type(e).__name__}({e.get_params().get('metric', e.get_params().get('similarity_metric', ''))})")
def test_each_estimator_declares_truly_whether_it_ranks_by_cosine(estimator):
    """The metrics and the index trust _ranks_by_cosine(): it must say what _similarity computes."""
    from skcross.base import cosine_similarity

    X_img, X_txt, y = make_cross_modal(120, n_classes=3, random_state=0)
    labels = y if estimator.__sklearn_tags__().target_tags.required else None
    model = estimator.fit(X_img, X_txt, labels)
    Z_img, Z_txt = model.transform_image(X_img[:30]), model.transform_text(X_txt[:30])
    cosine = np.allclose(model._similarity(Z_img, Z_txt), cosine_similarity(Z_img, Z_txt), atol=1e-5)
    assert model._ranks_by_cosine() == cosine


# ------------------------------------------------ a failed fit, feature names, fit_transform, extensions
def test_failed_fit_with_an_unknown_argument_leaves_the_estimator_unfitted(small_data):
    X_img, X_txt, y = small_data
    cca = CCA(2)
    with pytest.raises(TypeError, match="sample_weight"):
        cca.fit(X_img, X_txt, y, sample_weight=np.ones(len(y)))
    with pytest.raises(NotFittedError):
        check_is_fitted(cca)
    with pytest.raises(NotFittedError):
        cca.transform_image(X_img)


def test_dataframe_feature_names_are_checked_per_modality(small_data):
    pd = pytest.importorskip("pandas")
    X_img, X_txt, y = small_data
    D_img = pd.DataFrame(X_img, columns=[f"pixel{i}" for i in range(X_img.shape[1])])
    cca = CCA(2).fit(D_img, X_txt, y)
    assert cca.feature_names_image_in_.tolist() == D_img.columns.tolist()
    assert not hasattr(cca, "feature_names_text_in_")
    assert cca.n_features_in_ == X_img.shape[1] + X_txt.shape[1]
    with pytest.raises(ValueError, match="feature names of X_img should match"):
        cca.transform_image(D_img[D_img.columns[::-1]])  # was accepted silently
    with pytest.warns(UserWarning, match="X_img does not have valid feature names"):
        cca.transform_image(X_img)
    with pytest.warns(UserWarning, match="X_txt has feature names, but CCA was fitted without"):
        cca.transform_text(pd.DataFrame(X_txt, columns=[f"w{i}" for i in range(X_txt.shape[1])]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(cca.transform_image(D_img), CCA(2).fit(X_img, X_txt, y).transform_image(X_img))
    refit = cca.fit(X_img, X_txt, y)
    assert not hasattr(refit, "feature_names_image_in_")  # a refit without names forgets them


def test_fit_transform(small_data):
    X_img, X_txt, y = small_data
    Z = CCA(2).fit_transform(paired(X_img, X_txt), y)
    assert isinstance(Z, PairedData)
    np.testing.assert_allclose(Z.image, CCA(2).fit(X_img, X_txt, y).transform_image(X_img))
    assert make_pipeline(ModalityTransformer(image=PCA(4)), CCA(2)).fit_transform(paired(X_img, X_txt), y).shape == (
        120,
        4,
    )
    with pytest.raises(ValueError, match="needs paired rows"):
        CCA(2).fit_transform(X_img[:10], X_txt, y)


class FirstColumns(CrossModalMixin, BaseEstimator):
    """Written as base.py's docstring says: three hooks, no _parameter_constraints."""

    def __init__(self, n=3):
        self.n = n

    def _fit(self, X_img, X_txt, y):
        self.width_ = min(self.n, X_img.shape[1], X_txt.shape[1])

    def _transform_image(self, X_img):
        return X_img[:, : self.width_]

    def _transform_text(self, X_txt):
        return X_txt[:, : self.width_]


class PublicOnly(BaseEstimator):
    """A cross-modal estimator from another library: public methods only, no skcross base."""

    def fit(self, X, y=None):
        self.fitted_ = True
        return self

    def transform_image(self, X_img):
        return np.asarray(X_img)[:, :3]

    def transform_text(self, X_txt):
        return np.asarray(X_txt)[:, :3]

    def similarity(self, X_img, X_txt):
        return -((self.transform_image(X_img)[:, None] - self.transform_text(X_txt)[None]) ** 2).sum(-1)


def test_extension_contract(small_data):
    X_img, X_txt, y = small_data
    model = FirstColumns().fit(X_img, X_txt, y)  # failed: no _parameter_constraints
    assert model.transform_image(X_img).shape == (120, 3)
    S = model.similarity(X_img, X_txt)  # the user's public similarity is what the metrics rank
    scores = cross_modal_map(model, X_img, X_txt, y)
    assert scores["i2t"] == pytest.approx(mean_average_precision(S, y, y))
    assert scores["t2i"] == pytest.approx(mean_average_precision(S.T, y, y))
    public = PublicOnly().fit(None)
    S = public.similarity(X_img, X_txt)
    expected = (mean_average_precision(S, y, y) + mean_average_precision(S.T, y, y)) / 2
    assert get_scorer("map")(public, paired(X_img, X_txt), y) == pytest.approx(expected)  # was refused
    with pytest.raises(NotFittedError):
        get_scorer("map")(PublicOnly(), paired(X_img, X_txt), y)
