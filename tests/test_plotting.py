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
from skcross.metrics import class_prior_similarity, precision_recall_curve, precision_scope_curve  # noqa: E402
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


def _fitted_cca():
    X_img, X_txt, y = make_cross_modal(240, n_classes=4, random_state=0)
    model = CCA(3).fit(X_img[:160], X_txt[:160])
    return model, X_img[160:], X_txt[160:], y[160:]


@pytest.fixture(scope="module")
def fitted():
    return _fitted_cca()


def test_precision_recall_lines_are_the_metric(fitted):
    model, X_img, X_txt, y = fitted
    S = cosine_similarity(model.transform_image(X_img), model.transform_text(X_txt))
    ax = plot_precision_recall(model, X_img, X_txt, y, label="CCA")
    (i2t, t2i, random) = ax.get_lines()
    for line, expected in ((i2t, precision_recall_curve(S, y, y)), (t2i, precision_recall_curve(S.T, y, y))):
        np.testing.assert_allclose(line.get_xdata(), expected.recall)
        np.testing.assert_allclose(line.get_ydata(), expected.precision)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["CCA, image -> text", "CCA, text -> image",
                                                                   "random ranking"]
    # the random level is the mean share of relevant items, by hand; the axis spans all of precision
    share = np.mean([np.mean(y == label) for label in y])
    np.testing.assert_allclose(random.get_ydata(), [share, share])
    assert ax.get_ylim() == (0, 1.02)


def test_reference_levels_multilabel_class_prior_and_directions_that_differ():
    X_img, X_txt, Y = make_cross_modal(300, n_classes=5, multilabel=True, random_state=0)
    model = CCA(3).fit(X_img[:200], X_txt[:200], Y[:200])
    ax = plot_precision_scope(model, X_img[200:], X_txt[200:], Y[200:], y_train=Y[:200], scopes=[1, 10, 50],
                              directions="t2i")
    _, prior, random = ax.get_lines()
    S = class_prior_similarity(Y[:200], Y[200:], 100)
    np.testing.assert_allclose(prior.get_ydata(), precision_scope_curve(S, Y[200:], Y[200:], scopes=[1, 10, 50])
                               .precision)
    by_hand = np.mean([(Y[200:] @ row > 0).mean() for row in Y[200:]])
    np.testing.assert_allclose(random.get_ydata()[0], by_hand)
    assert "class prior (query-independent), text -> image" in [t.get_text() for t in ax.get_legend().get_texts()]
    # 10 image queries of class 0 against texts of classes 0-3: one level, the relevant share of the pairs
    _, X_img, X_txt, y = _fitted_cca()
    ax = plot_precision_recall(_fitted_cca()[0], X_img[:10], X_txt, (np.zeros(10, dtype=int), y))
    assert ax.get_lines()[-1].get_ydata()[0] == pytest.approx(np.mean(y == 0))
    assert len(plot_precision_recall(_fitted_cca()[0], X_img, X_txt, y, reference=False).get_lines()) == 2
    with pytest.raises(ValueError, match="reference must be True or False"):
        plot_precision_recall(_fitted_cca()[0], X_img, X_txt, y, reference="yes")


def test_precision_scope_lines_are_the_metric_for_a_pipeline_and_unequal_sets(fitted):
    _, X_img, X_txt, y = fitted
    X_img_train, X_txt_train, _ = make_cross_modal(160, n_classes=4, random_state=1)
    pipe = make_pipeline(ModalityTransformer(image=PCA(8), text=PCA(8)), CCA(3)).fit(paired(X_img_train, X_txt_train))
    ax = plot_precision_scope(pipe, X_img[:10], X_txt, (y[:10], y), directions="i2t", scopes=[1, 5, 20],
                              reference=False)
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


def test_score_vs_parameter_from_a_fitted_search():
    from sklearn.model_selection import GridSearchCV

    from skcross.metrics import get_scorers

    X_img, X_txt, y = make_cross_modal(150, n_classes=3, random_state=0)
    pipe = make_pipeline(ModalityTransformer(image=PCA(6), text=PCA(6)), CCA())
    grid = {"cca__n_components": [3, 1, 2], "cca__reg": [1e-3, 10.0]}
    search = GridSearchCV(pipe, grid, cv=3, scoring=get_scorers(["map", "map_t2i"]), refit="map")
    with pytest.raises(ValueError, match="not fitted yet"):
        plot_score_vs_parameter(search, "cca__n_components")
    search.fit(paired(X_img, X_txt), y)
    ax = plot_score_vs_parameter(search, "cca__n_components")
    results = search.cv_results_
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), [1, 2, 3])  # sorted
    for x, y_value in zip([1, 2, 3], line.get_ydata()):  # the best mean over the other parameter
        rows = np.asarray(results["param_cca__n_components"]) == x
        assert y_value == pytest.approx(results["mean_test_map"][rows].max())
    assert ax.get_xlabel() == "cca__n_components" and ax.get_ylabel() == "map"
    assert plot_score_vs_parameter(search, "cca__reg", scoring="map_t2i").get_ylabel() == "map_t2i"
    with pytest.raises(ValueError, match=r"did not vary 'cca__scale'; its parameters are \['cca__n_components'"):
        plot_score_vs_parameter(search, "cca__scale")
    with pytest.raises(ValueError, match="scoring='accuracy' is not among the search's scores"):
        plot_score_vs_parameter(search, "cca__reg", scoring="accuracy")
    with pytest.raises(TypeError, match=r"plot_score_vs_parameter\(search, 'cca__reg'\)"):
        plot_score_vs_parameter([1, 2], "cca__reg")
    categories = plot_score_vs_parameter(["cosine", "euclidean"], [0.3, 0.2])
    assert [t.get_text() for t in categories.get_xticklabels()] == ["cosine", "euclidean"]


def test_common_space_projects_both_modalities_together(fitted):
    model, X_img, X_txt, y = fitted
    ax = plot_common_space(model, X_img, X_txt, y)
    images, texts = ax.collections
    E = np.vstack([model.transform_image(X_img), model.transform_text(X_txt)])
    expected = PCA(2).fit_transform(E)
    np.testing.assert_allclose(np.abs(images.get_offsets()), np.abs(expected[: len(y)]), atol=1e-8)
    np.testing.assert_allclose(np.abs(texts.get_offsets()), np.abs(expected[len(y):]), atol=1e-8)
    np.testing.assert_array_equal(images.get_array(), y)  # colour = class index (classes 0..3)
    assert ax.get_xlabel().startswith("PCA component 1") and ax.get_ylabel() == "PCA component 2"
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["image", "text", "0", "1", "2", "3"]
    assert legend.get_title().get_text() == "modality, class"
    # each class's legend colour is the colour its points are drawn in
    colours = images.to_rgba(images.get_array())  # what the scatter draws, by its colour map and norm
    for handle, label in zip(legend.legend_handles[2:], "0123"):
        drawn = colours[np.flatnonzero(y == int(label))[0]][:3]
        np.testing.assert_allclose(matplotlib.colors.to_rgb(handle.get_color()), drawn, atol=1e-6)


def test_common_space_tsne_multilabel_and_subsampling():
    X_img, X_txt, Y = make_cross_modal(120, n_classes=5, multilabel=True, random_state=0)
    model = CCA(3).fit(X_img, X_txt)
    ax = plot_common_space(model, X_img, X_txt, Y, method="tsne", max_points=50, random_state=0)
    assert [len(c.get_offsets()) for c in ax.collections] == [50, 50]
    assert "first label of each item" in ax.get_title() and ax.get_xlabel().startswith("t-SNE dimension 1")
    with pytest.raises(ValueError, match="method must be"):
        plot_common_space(model, X_img, X_txt, Y, method="umap")
    with pytest.raises(ValueError, match="max_points"):
        plot_common_space(model, X_img, X_txt, Y, max_points=1)


def test_plot_retrieved_captions_marks_each_models_top_captions():
    from skcross.datasets import make_cross_modal
    from skcross.linear import CCA
    from skcross.plotting import plot_retrieved_captions, query_rows, top_captions

    X_img, X_txt, _, groups = make_cross_modal(30, n_classes=3, n_texts_per_image=3, return_groups=True,
                                               random_state=0)
    images = np.random.default_rng(0).integers(0, 256, (30, 8, 8, 3), dtype=np.uint8)
    captions = [f"caption {t} of image {g}" for t, g in enumerate(groups)]
    model = CCA(4).fit(X_img, X_txt)
    fig = plot_retrieved_captions({"CCA": model, "CCA again": model}, images, X_img, X_txt, captions, groups,
                                  n_queries=2, k=4)
    assert len(fig.axes) == 2 * 3  # two queries: the image and one column per model
    rows = query_rows(groups, 2)
    top = top_captions(model, X_img[rows], X_txt, k=4)
    texts = [t.get_text() for t in fig.axes[1].texts]
    assert len(texts) == 4 and all(captions[t] in text for t, text in zip(top[0], texts))
    marks = ["✓" in text for text in texts]
    assert marks == [bool(groups[t] == groups[rows[0]]) for t in top[0]]
    plt.close(fig)
    with pytest.raises(ValueError, match=r"captions has 2 rows but groups has 90"):
        plot_retrieved_captions(model, images, X_img, X_txt, captions[:2], groups)
    with pytest.raises(ValueError, match=r"k must be a positive integer"):
        plot_retrieved_captions(model, images, X_img, X_txt, captions, groups, k=0)
