"""skcross.plotting: the plotted values are the metrics' values."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from skcross import paired  # noqa: E402
from skcross.base import cosine_similarity  # noqa: E402
from skcross.datasets import make_cross_modal  # noqa: E402
from skcross.linear import CCA  # noqa: E402
from skcross.metrics import precision_recall_curve, precision_scope_curve  # noqa: E402
from skcross.pipeline import make_pipeline  # noqa: E402
from skcross.plotting import (  # noqa: E402
    plot_common_space,
    plot_curve,
    plot_precision_recall,
    plot_precision_scope,
    plot_score_vs_parameter,
)
from skcross.preprocessing import ModalityTransformer  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fitted():
    X_img, X_txt, y = make_cross_modal(240, n_classes=4, random_state=0)
    model = CCA(3).fit(X_img[:160], X_txt[:160])
    return model, X_img[160:], X_txt[160:], y[160:]


def test_precision_recall_lines_are_the_metric(fitted):
    model, X_img, X_txt, y = fitted
    S = cosine_similarity(model.transform_image(X_img), model.transform_text(X_txt))
    ax = plot_precision_recall(model, X_img, X_txt, y, label="CCA")
    (i2t, t2i) = ax.get_lines()
    for line, expected in ((i2t, precision_recall_curve(S, y, y)), (t2i, precision_recall_curve(S.T, y, y))):
        np.testing.assert_allclose(line.get_xdata(), expected.recall)
        np.testing.assert_allclose(line.get_ydata(), expected.precision)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["CCA, image -> text", "CCA, text -> image"]


def test_precision_scope_lines_are_the_metric_for_a_pipeline_and_unequal_sets(fitted):
    _, X_img, X_txt, y = fitted
    X_img_train, X_txt_train, _ = make_cross_modal(160, n_classes=4, random_state=1)
    pipe = make_pipeline(ModalityTransformer(image=PCA(8), text=PCA(8)), CCA(3)).fit(paired(X_img_train, X_txt_train))
    ax = plot_precision_scope(pipe, X_img[:10], X_txt, (y[:10], y), directions="i2t", scopes=[1, 5, 20])
    embed_img = pipe[-1].transform_image(pipe[0].transform_image(X_img[:10]))
    embed_txt = pipe[-1].transform_text(pipe[0].transform_text(X_txt))
    expected = precision_scope_curve(cosine_similarity(embed_img, embed_txt), y[:10], y, scopes=[1, 5, 20])
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_xdata(), [1, 5, 20])
    np.testing.assert_allclose(line.get_ydata(), expected.precision)


def test_plot_curve_draws_on_given_axes_and_validates():
    S = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.3]])
    fig, ax = plt.subplots()
    curve = precision_scope_curve(S, [0, 1], [0, 1, 0], scopes=[1, 2, 3])
    assert plot_curve(curve, ax=ax) is ax
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), curve.precision)
    assert ax.get_xlabel().startswith("scope")
    with pytest.raises(TypeError, match="PrecisionRecallCurve or PrecisionScopeCurve"):
        plot_curve((1, 2))
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        plot_curve(curve, ax="left")


def test_directions_are_validated(fitted):
    model, X_img, X_txt, y = fitted
    with pytest.raises(ValueError, match="directions"):
        plot_precision_recall(model, X_img, X_txt, y, directions="x2y")


def test_score_vs_parameter():
    ax = plot_score_vs_parameter([0.1, 1, 10, 100], [0.2, 0.3, 0.25, 0.22], std=[0.01] * 4, param_name="C")
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), [0.2, 0.3, 0.25, 0.22])
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "C"
    assert plot_score_vs_parameter([1, 2, 3], [0.1, 0.2, 0.3]).get_xscale() == "linear"
    with pytest.raises(ValueError, match="same length"):
        plot_score_vs_parameter([1, 2], [0.1])
    with pytest.raises(ValueError, match="std must have the shape"):
        plot_score_vs_parameter([1, 2], [0.1, 0.2], std=[0.1])
    with pytest.raises(ValueError, match="finite"):
        plot_score_vs_parameter([1, 2], [0.1, np.nan])


def test_common_space_projects_both_modalities_together(fitted):
    model, X_img, X_txt, y = fitted
    ax = plot_common_space(model, X_img, X_txt, y)
    images, texts = ax.collections
    E = np.vstack([model.transform_image(X_img), model.transform_text(X_txt)])
    expected = PCA(2).fit_transform(E)
    np.testing.assert_allclose(np.abs(images.get_offsets()), np.abs(expected[: len(y)]), atol=1e-8)
    np.testing.assert_allclose(np.abs(texts.get_offsets()), np.abs(expected[len(y):]), atol=1e-8)
    np.testing.assert_array_equal(images.get_array(), y)  # colour = class index (classes 0..3)


def test_common_space_tsne_multilabel_and_subsampling():
    X_img, X_txt, Y = make_cross_modal(120, n_classes=5, multilabel=True, random_state=0)
    model = CCA(3).fit(X_img, X_txt)
    ax = plot_common_space(model, X_img, X_txt, Y, method="tsne", max_points=50, random_state=0)
    assert [len(c.get_offsets()) for c in ax.collections] == [50, 50]
    with pytest.raises(ValueError, match="method must be"):
        plot_common_space(model, X_img, X_txt, Y, method="umap")
    with pytest.raises(ValueError, match="max_points"):
        plot_common_space(model, X_img, X_txt, Y, max_points=1)
