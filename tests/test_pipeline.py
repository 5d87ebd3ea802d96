"""skcross's Pipeline (and scikit-learn's) around a cross-modal estimator: tuned, then used to retrieve."""

import numpy as np
import pytest
import sklearn
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline as sklearn_make_pipeline

from skcross import paired
from skcross.base import cosine_similarity
from skcross.linear import CCA
from skcross.metrics import cross_modal_map, get_scorer, mean_average_precision
from skcross.pipeline import Pipeline, make_pipeline
from skcross.preprocessing import ModalityTransformer


@pytest.mark.parametrize("builder", [make_pipeline, sklearn_make_pipeline], ids=["skcross", "sklearn"])
def test_tuned_pipeline_ranks_a_few_queries_against_a_database(small_data, builder):
    X_img, X_txt, y = small_data
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


def test_skcross_pipeline_has_the_cross_modal_methods(small_data):
    X_img, X_txt, y = small_data
    pipe = make_pipeline(ModalityTransformer(image=PCA(5)), CCA(3)).fit(paired(X_img, X_txt), y)
    assert isinstance(pipe, Pipeline) and isinstance(pipe, sklearn.pipeline.Pipeline)
    pca, cca = pipe[0].image_, pipe[-1]
    np.testing.assert_allclose(pipe.transform_image(X_img[:4]), cca.transform_image(pca.transform(X_img[:4])))
    np.testing.assert_allclose(pipe.transform_text(X_txt[:7]), cca.transform_text(X_txt[:7]))
    assert pipe.similarity(X_img[:4], X_txt[:7]).shape == (4, 7)
    S = pipe.similarity(X_img, X_txt)
    assert pipe.score(paired(X_img, X_txt), y) == pytest.approx(
        (mean_average_precision(S, y, y) + mean_average_precision(S.T, y, y)) / 2)
    with pytest.raises(TypeError, match="wrap per-modality transformers"):
        make_pipeline(PCA(2), CCA(2)).transform_image(X_img)
    assert not hasattr(make_pipeline(ModalityTransformer(image=PCA(2)), PCA(2)), "transform_image")
