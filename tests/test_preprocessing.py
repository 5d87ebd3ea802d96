import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import StandardScaler

from skcross import PairedData, paired
from skcross.datasets import make_cross_modal
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
