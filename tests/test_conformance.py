"""scikit-learn conformance: one regression test per finding of the maintainer's review (issue 15).

Each test reproduces the review's failure; the numbers in the comments are the
review's items.
"""

import warnings

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline as sklearn_make_pipeline
from sklearn.utils.validation import check_is_fitted

from skcross import PairedData, paired
from skcross.base import CrossModalMixin, cosine_similarity
from skcross.datasets import make_cross_modal
from skcross.linear import CCA, MLCCA, PLS
from skcross.metrics import (
    cross_modal_map,
    get_scorer,
    mean_average_precision,
    precision_at_k,
    precision_recall_curve,
    precision_scope_curve,
    recall_at_k,
)
from skcross.pipeline import Pipeline, make_pipeline
from skcross.preprocessing import ModalityTransformer, SIFEmbedding


@pytest.fixture(scope="module")
def data():
    return make_cross_modal(120, n_classes=4, random_state=0)


# ------------------------------------------------------------ 1. a tuned Pipeline retrieves
@pytest.mark.parametrize("builder", [make_pipeline, sklearn_make_pipeline], ids=["skcross", "sklearn"])
def test_tuned_pipeline_ranks_a_few_queries_against_a_database(data, builder):
    X_img, X_txt, y = data
    pipe = builder(ModalityTransformer(image=PCA(0.95)), CCA())
    search = GridSearchCV(pipe, {"cca__n_components": [2, 3]}, scoring=get_scorer("map"), cv=3)
    search.fit(paired(X_img, X_txt), y)
    best = search.best_estimator_
    scores = cross_modal_map(best, X_img[:5], X_txt, (y[:5], y))  # failed: "same number of rows"
    # the same numbers by hand: PCA on the images, then the fitted CCA's embeddings and cosine
    cca, pca = best[-1], best[0].image_
    S = cosine_similarity(cca.transform_image(pca.transform(X_img[:5])), cca.transform_text(X_txt))
    assert scores["i2t"] == pytest.approx(mean_average_precision(S, y[:5], y))
    assert scores["t2i"] == pytest.approx(mean_average_precision(S.T, y, y[:5]))
    assert get_scorer("map")(best, (X_img[:5], X_txt), (y[:5], y)) == pytest.approx(scores["mean"])


def test_skcross_pipeline_has_the_cross_modal_methods(data):
    X_img, X_txt, y = data
    pipe = make_pipeline(ModalityTransformer(image=PCA(5)), CCA(3)).fit(paired(X_img, X_txt), y)
    assert isinstance(pipe, Pipeline) and isinstance(pipe, sklearn.pipeline.Pipeline)
    pca, cca = pipe[0].image_, pipe[-1]
    np.testing.assert_allclose(pipe.transform_image(X_img[:4]), cca.transform_image(pca.transform(X_img[:4])))
    np.testing.assert_allclose(pipe.transform_text(X_txt[:7]), cca.transform_text(X_txt[:7]))
    assert pipe.similarity(X_img[:4], X_txt[:7]).shape == (4, 7)
    assert 0 <= pipe.score(paired(X_img, X_txt), y) <= 1
    with pytest.raises(TypeError, match="wrap per-modality transformers"):
        make_pipeline(PCA(2), CCA(2)).transform_image(X_img)
    assert not hasattr(make_pipeline(ModalityTransformer(image=PCA(2)), PCA(2)), "transform_image")


# ------------------------------------------------------------ 2. raw text and SIF in a Pipeline
WORDS = [["sun", "sky", "blue"], ["tree", "leaf", "green"], ["car", "road", "fast"], ["cat", "dog", "pet"]]


@pytest.fixture(scope="module")
def sentences(data):
    _, _, y = data
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(WORDS[c], 4)) + " the a" for c in y]


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(1)
    return {w: rng.standard_normal(6) for w in sum(WORDS, []) + ["the", "a"]}


def test_sif_is_fitted_inside_cross_validation_on_raw_text(data, sentences, vectors):
    X_img, _, y = data
    X = paired(X_img, sentences)  # failed: "text must be a 2-D array"
    assert X.shape == (120, X_img.shape[1] + 1) and X[[3, 5]].text.tolist() == [sentences[3], sentences[5]]
    pipe = make_pipeline(ModalityTransformer(text=SIFEmbedding(vectors)), CCA(2))
    search = GridSearchCV(pipe, {"modalitytransformer__text__a": [1e-3, 1e-1]}, scoring="map", cv=3)
    search.set_params(scoring=get_scorer("map")).fit(X, y)
    assert search.best_score_ > 0.4  # four classes: chance is about 0.25
    # the corpus statistics come from the training rows only
    half = make_pipeline(ModalityTransformer(text=SIFEmbedding(vectors)), CCA(2)).fit(X[:60], y[:60])
    sif = half[0].text_
    tokens = sum((s.split() for s in sentences[:60]), [])
    assert sif.word_frequencies_["the"] == pytest.approx(tokens.count("the") / len(tokens))
    assert cross_modal_map(half, X_img[60:], sentences[60:], y[60:])["mean"] > 0.4
    with pytest.raises(TypeError, match="raw text"):
        CCA(2).fit(X_img, sentences, y)


def test_sif_accepts_a_column_of_strings_and_is_cloned_by_reference(sentences, vectors):
    sif = SIFEmbedding(vectors)
    assert clone(sif).word_vectors is vectors  # was a deep copy: gigabytes per grid-search candidate
    assert clone(ModalityTransformer(text=sif)).text.word_vectors is vectors
    column = np.array(sentences, dtype=object)[:, None]
    np.testing.assert_allclose(clone(sif).fit(column).transform(column), clone(sif).fit(sentences).transform(sentences))


# ------------------------------------------------------------ 3. a failed fit leaves nothing behind
def test_failed_fit_with_an_unknown_argument_leaves_the_estimator_unfitted(data):
    X_img, X_txt, y = data
    cca = CCA(2)
    with pytest.raises(TypeError, match="sample_weight"):
        cca.fit(X_img, X_txt, y, sample_weight=np.ones(len(y)))
    with pytest.raises(NotFittedError):
        check_is_fitted(cca)
    with pytest.raises(NotFittedError):
        cca.transform_image(X_img)


# ------------------------------------------------------------ 4. DataFrames keep their names
def test_dataframe_feature_names_are_checked_per_modality(data):
    pd = pytest.importorskip("pandas")
    X_img, X_txt, y = data
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


# ------------------------------------------------------------ 5. deep fit: callbacks, RNG, device
deep = pytest.importorskip("skcross.deep", reason="the deep extra (torch, skorch) is not installed")


def test_deep_fit_leaves_callbacks_and_the_global_torch_generator_alone(data):
    import torch
    from skorch.callbacks import EarlyStopping

    X_img, X_txt, y = data
    stopper = EarlyStopping(monitor="train_loss", patience=1, load_best=True)
    before = dict(vars(stopper))
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    deep.DSCMR(max_epochs=3, callbacks=[stopper], verbose=0, random_state=None).fit(X_img, X_txt, y)
    assert torch.equal(torch.rand(3), expected)  # fit reseeded the global generator
    assert vars(stopper).keys() == before.keys()  # gained best_model_weights_ and counters


def test_deep_errors_say_what_to_set(data):
    import torch
    from skorch.callbacks import EarlyStopping

    X_img, X_txt, y = data
    model = deep.DSCMR(max_epochs=2, callbacks=[EarlyStopping()], verbose=0)
    with pytest.raises(ValueError, match="set validation_fraction"):  # was KeyError: 'valid_loss'
        model.fit(X_img, X_txt, y)
    model.set_params(validation_fraction=0.2).fit(X_img, X_txt, y)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device='cuda', but"):  # was a raw AssertionError
            deep.DSCMR(max_epochs=1, device="cuda").fit(X_img, X_txt, y)
    with pytest.raises(ValueError, match="not a torch device"):
        deep.DSCMR(max_epochs=1, device="gpu0").fit(X_img, X_txt, y)


def test_partial_fit_continues_training(data):
    X_img, X_txt, y = data
    model = deep.DSCMR(max_epochs=2, verbose=0, random_state=0).fit(X_img, X_txt, y)
    Z = model.transform_image(X_img)
    assert model.partial_fit(X_img, X_txt, y) is model
    assert model.n_epochs_ == 4 and len(model.net_.history) == 4
    assert not np.allclose(model.transform_image(X_img), Z)
    with pytest.raises(ValueError, match="labels seen in fit"):
        model.partial_fit(X_img[y < 2], X_txt[y < 2], y[y < 2])
    assert model.n_epochs_ == 4  # the failed call changed nothing
    # partial_fit validates as fit does (one validation): the fit(X, y) habit, widths, labels
    with pytest.raises(ValueError, match="partial_fit\\(\\) got a 1-D second argument"):
        model.partial_fit(X_img, y)
    with pytest.raises(ValueError, match="X_txt has 3 features, but the estimator was fitted with"):
        model.partial_fit(X_img, X_txt[:, :3], y)
    with pytest.raises(ValueError, match="y is required: DSCMR is supervised"):
        model.partial_fit(X_img, X_txt)
    assert model.n_epochs_ == 4
    fresh = deep.DSCMR(max_epochs=2, verbose=0, random_state=0).partial_fit(X_img, X_txt, y)
    assert fresh.n_epochs_ == 2
    assert not hasattr(deep.UNCSM(), "partial_fit")  # four stages: no single network to continue


# ------------------------------------------------------------ 7. metadata routing
def test_data_is_not_metadata_and_searches_run_with_routing_enabled(data):
    X_img, X_txt, y = data
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


# ------------------------------------------------------------ 8. third-party estimators
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


def test_extension_contract(data):
    X_img, X_txt, y = data
    model = FirstColumns().fit(X_img, X_txt, y)  # failed: no _parameter_constraints
    assert model.transform_image(X_img).shape == (120, 3)
    assert 0 <= cross_modal_map(model, X_img, X_txt, y)["mean"] <= 1
    public = PublicOnly().fit(None)
    S = public.similarity(X_img, X_txt)
    expected = (mean_average_precision(S, y, y) + mean_average_precision(S.T, y, y)) / 2
    assert get_scorer("map")(public, paired(X_img, X_txt), y) == pytest.approx(expected)  # was refused
    with pytest.raises(NotFittedError):
        get_scorer("map")(PublicOnly(), paired(X_img, X_txt), y)


# ------------------------------------------------------------ 9. output API
def test_modality_transformer_output_api(data):
    pd = pytest.importorskip("pandas")
    X_img, X_txt, y = data
    mt = ModalityTransformer(image=PCA(3)).fit(paired(X_img, X_txt))
    names = mt.get_feature_names_out()
    assert names.tolist() == ["image__pca0", "image__pca1", "image__pca2"] + [
        f"text__x{i}" for i in range(X_txt.shape[1])
    ]
    pipe = make_pipeline(ModalityTransformer(image=PCA(3)).set_output(transform="pandas"), CCA(2))
    pipe = clone(pipe).fit(paired(X_img, X_txt), y)  # the setting survives clone
    assert isinstance(pipe[0].transform_image(X_img), pd.DataFrame)
    assert pipe[-1].feature_names_image_in_.tolist() == ["pca0", "pca1", "pca2"]
    assert pipe.transform_image(X_img[:2]).shape == (2, 2)


def test_fit_transform(data):
    X_img, X_txt, y = data
    Z = CCA(2).fit_transform(paired(X_img, X_txt), y)
    assert isinstance(Z, PairedData)
    np.testing.assert_allclose(Z.image, CCA(2).fit(X_img, X_txt, y).transform_image(X_img))
    assert make_pipeline(ModalityTransformer(image=PCA(4)), CCA(2)).fit_transform(paired(X_img, X_txt), y).shape == (
        120,
        4,
    )
    with pytest.raises(ValueError, match="needs paired rows"):
        CCA(2).fit_transform(X_img[:10], X_txt, y)


# ------------------------------------------------------------ 12. names and types
def test_metric_types_and_curve_fields(data):
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


def test_canonical_correlations_renamed(data):
    X_img, X_txt, y = data
    cca = CCA(2).fit(X_img, X_txt)
    assert np.all((cca.canonical_correlations_ > 0) & (cca.canonical_correlations_ <= 1))
    with pytest.warns(FutureWarning, match="canonical_correlations_"):
        np.testing.assert_array_equal(cca.singular_values_, cca.canonical_correlations_)
    assert hasattr(MLCCA(2).fit(X_img, X_txt, y), "canonical_correlations_")
    assert hasattr(PLS(2).fit(X_img, X_txt), "singular_values_")  # PLS's are singular values
    assert not hasattr(PLS(2).fit(X_img, X_txt), "canonical_correlations_")
