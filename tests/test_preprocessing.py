import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from skcross import PairedData, paired
from skcross.datasets import make_cross_modal
from skcross.linear import CCA
from skcross.metrics import cross_modal_map, get_scorer
from skcross.pipeline import make_pipeline
from skcross.preprocessing import ModalityTransformer


@pytest.fixture
def X():
    X_img, X_txt, _ = make_cross_modal(50, random_state=0)
    return paired(X_img, X_txt)


def test_each_modality_gets_its_own_transformer(X):
    mt = ModalityTransformer(image=PCA(3, random_state=0), text=StandardScaler()).fit(X)
    Xt = mt.transform(X)
    assert isinstance(Xt, PairedData)
    np.testing.assert_allclose(Xt.image, PCA(3, random_state=0).fit_transform(X.image))
    np.testing.assert_allclose(Xt.text, StandardScaler().fit_transform(X.text))


@pytest.mark.parametrize("step", [None, "passthrough"])
def test_passthrough(X, step):
    Xt = ModalityTransformer(image=step, text=step).fit_transform(X)
    assert Xt.image is X.image and Xt.text is X.text


def test_nested_params_and_clone(X):
    mt = ModalityTransformer(image=PCA(3))
    assert mt.get_params()["image__n_components"] == 3
    mt.set_params(image__n_components=5)
    assert mt.image.n_components == 5
    fitted = clone(mt).fit(X)
    assert mt.image is not fitted.image_  # the parameter is cloned, not fitted in place
    assert fitted.transform(X).image.shape == (50, 5)


def test_errors(X):
    with pytest.raises(TypeError, match="expects X as a PairedData"):
        ModalityTransformer(image=PCA(2)).fit(X.image)
    with pytest.raises(TypeError, match="image must be a transformer"):
        ModalityTransformer(image="pca").fit(X)
    with pytest.raises(NotFittedError):
        ModalityTransformer().transform(X)


# --------------------------------------------------------------------------- SIF
from skcross.preprocessing import SIFEmbedding  # noqa: E402


@pytest.fixture
def vectors():
    rng = np.random.default_rng(0)
    return {w: rng.standard_normal(4) for w in ["the", "a", "cat", "dog", "sat", "ran", "mat"]}


def test_sif_weights_and_common_component_by_hand(vectors):
    corpus = ["the cat sat", "the dog ran", "a cat", "the mat"]
    sif = SIFEmbedding(vectors, a=0.1).fit(corpus)
    assert sif.word_frequencies_["the"] == pytest.approx(3 / 10)  # 3 of the 10 tokens
    tokens = [s.split() for s in corpus]
    averages = np.stack(
        [sum(0.1 / (0.1 + sif.word_frequencies_[w]) * vectors[w] for w in t) / len(t) for t in tokens]
    )
    u = np.linalg.svd(averages)[2][0]
    np.testing.assert_allclose(abs(sif.principal_component_ @ u), 1.0)
    expected = averages - np.outer(averages @ u, u)
    np.testing.assert_allclose(sif.transform(corpus), expected, atol=1e-12)
    np.testing.assert_allclose(sif.transform(corpus) @ u, 0, atol=1e-12)  # component removed


def test_sif_inputs(vectors):
    sif = SIFEmbedding(vectors).fit([["the", "cat"], ["a", "dog"]])  # pre-tokenised
    np.testing.assert_array_equal(sif.transform(["unknown words only"]), np.zeros((1, 4)))
    assert sif.transform(["The CAT"]).shape == (1, 4)  # lower-cased
    with pytest.raises(TypeError, match="list of sentences"):
        sif.transform("the cat")
    with pytest.raises(ValueError, match="no word of X has a vector"):
        SIFEmbedding(vectors).fit(["zebra"])
    with pytest.raises(ValueError, match="X is empty"):
        SIFEmbedding(vectors).fit([])
    with pytest.raises(ValueError, match="a must be a positive"):
        SIFEmbedding(vectors, a=0).fit(["the cat"])


def test_sif_in_a_pipeline_with_keyed_vectors_like_object(vectors):
    class KeyedVectors:  # gensim's interface: `in`, [] and nothing else needed
        def __init__(self, d):
            self._d = d

        def __contains__(self, w):
            return w in self._d

        def __getitem__(self, w):
            return self._d[w]

    sif = SIFEmbedding(KeyedVectors(vectors)).fit(["the cat sat", "a dog ran"])
    assert sif.transform(["the dog"]).shape == (1, 4)


# --------------------------------------------------------------------------- common checks
from skcross.utils.estimator_checks import check_preprocessing_transformer  # noqa: E402


def test_modality_transformer_contract(X):
    check_preprocessing_transformer(ModalityTransformer(image=PCA(3), text=StandardScaler()), X, X.image)
    check_preprocessing_transformer(ModalityTransformer(), X, X.image)


def test_sif_contract(vectors):
    corpus = ["the cat sat", "the dog ran", "a cat", "the mat"]
    check_preprocessing_transformer(SIFEmbedding(vectors), corpus, ["zebra"])
    check_preprocessing_transformer(SIFEmbedding(vectors), np.array(corpus, dtype=object), "the cat")


# --------------------------------------------------------------------------- raw text and SIF in a Pipeline; output API
WORDS = [["sun", "sky", "blue"], ["tree", "leaf", "green"], ["car", "road", "fast"], ["cat", "dog", "pet"]]


@pytest.fixture(scope="module")
def class_sentences(small_data):
    _, _, y = small_data
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(WORDS[c], 4)) + " the a" for c in y]


@pytest.fixture(scope="module")
def class_word_vectors():
    rng = np.random.default_rng(1)
    return {w: rng.standard_normal(6) for w in sum(WORDS, []) + ["the", "a"]}


def test_sif_is_fitted_inside_cross_validation_on_raw_text(small_data, class_sentences, class_word_vectors):
    X_img, _, y = small_data
    X = paired(X_img, class_sentences)  # failed: "text must be a 2-D array"
    assert X.shape == (120, X_img.shape[1] + 1) and X[[3, 5]].text.tolist() == [class_sentences[3], class_sentences[5]]
    pipe = make_pipeline(ModalityTransformer(text=SIFEmbedding(class_word_vectors)), CCA(2))
    search = GridSearchCV(pipe, {"modalitytransformer__text__a": [1e-3, 1e-1]}, scoring="map", cv=3)
    search.set_params(scoring=get_scorer("map")).fit(X, y)
    assert search.best_score_ > 0.4  # four classes: chance is about 0.25
    # the corpus statistics come from the training rows only
    half = make_pipeline(ModalityTransformer(text=SIFEmbedding(class_word_vectors)), CCA(2)).fit(X[:60], y[:60])
    sif = half[0].text_
    tokens = sum((s.split() for s in class_sentences[:60]), [])
    assert sif.word_frequencies_["the"] == pytest.approx(tokens.count("the") / len(tokens))
    assert cross_modal_map(half, X_img[60:], class_sentences[60:], y[60:])["mean"] > 0.4
    with pytest.raises(TypeError, match="raw text"):
        CCA(2).fit(X_img, class_sentences, y)


def test_sif_accepts_a_column_of_strings_and_is_cloned_by_reference(class_sentences, class_word_vectors):
    sif = SIFEmbedding(class_word_vectors)
    assert clone(sif).word_vectors is class_word_vectors  # was a deep copy: gigabytes per grid-search candidate
    assert clone(ModalityTransformer(text=sif)).text.word_vectors is class_word_vectors
    column = np.array(class_sentences, dtype=object)[:, None]
    np.testing.assert_allclose(clone(sif).fit(column).transform(column),
                               clone(sif).fit(class_sentences).transform(class_sentences))


def test_modality_transformer_output_api(small_data):
    pd = pytest.importorskip("pandas")
    X_img, X_txt, y = small_data
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
