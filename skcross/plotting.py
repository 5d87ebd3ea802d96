"""Plots of retrieval results (needs matplotlib, the ``plot`` extra).

Every function draws on an existing matplotlib ``Axes`` (``ax=``) or on a new
figure, and returns the ``Axes`` so that plots can be combined, labelled and
saved with matplotlib's own calls. The plotted values are exactly those of
:mod:`skcross.metrics`: :func:`plot_precision_recall` draws
:func:`~skcross.metrics.precision_recall_curve`, :func:`plot_precision_scope`
draws :func:`~skcross.metrics.precision_scope_curve`.
"""

import numbers
import os

import numpy as np
from sklearn.utils import check_random_state

from .metrics import (
    PrecisionRecallCurve,
    PrecisionScopeCurve,
    as_ranker,
    class_prior_similarity,
    precision_recall_curve,
    precision_scope_curve,
    random_precision,
    split_labels,
)

__all__ = [
    "plot_common_space",
    "plot_retrieved_captions",
    "plot_curve",
    "plot_precision_recall",
    "plot_precision_scope",
    "plot_score_vs_parameter",
]

_DIRECTION_NAMES = {"i2t": "image -> text", "t2i": "text -> image"}


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - exercised only without matplotlib
        raise ImportError(
            "skcross.plotting needs matplotlib: pip install 'skcross[plot]' (or matplotlib)."
        ) from error
    return plt


def _axes(ax):
    if ax is None:
        _, ax = _pyplot().subplots()
    elif not hasattr(ax, "plot"):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}.")
    return ax


def plot_curve(curve, *, ax=None, label=None, **line_kwargs):
    """Draw a precision-recall or precision-scope curve computed by :mod:`skcross.metrics`.

    Parameters
    ----------
    curve : PrecisionRecallCurve or PrecisionScopeCurve
        What :func:`~skcross.metrics.precision_recall_curve` or
        :func:`~skcross.metrics.precision_scope_curve` returned (or the same
        named tuple holding, e.g., curves averaged over seeds).
    ax : matplotlib Axes, default=None
        Where to draw; None makes a new figure.
    label : str, default=None
        Legend entry of the line.
    **line_kwargs
        Passed to ``Axes.plot`` (colour, line style...).

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on; recall (or the scope) on x, precision on y, whose
        axis spans 0 to 1.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skcross.metrics import precision_recall_curve
    >>> from skcross.plotting import plot_curve
    >>> S = np.array([[0.9, 0.8, 0.1], [0.2, 0.7, 0.3]])
    >>> ax = plot_curve(precision_recall_curve(S, [0, 1], [0, 1, 0]), label="toy")
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('recall', 'precision')
    """
    if isinstance(curve, PrecisionRecallCurve):
        x, y, xlabel = curve.recall, curve.precision, "recall"
    elif isinstance(curve, PrecisionScopeCurve):
        x, y, xlabel = curve.scopes, curve.precision, "scope (number of items retrieved)"
    else:
        raise TypeError(
            "curve must be a PrecisionRecallCurve or PrecisionScopeCurve (from skcross.metrics), "
            f"got {type(curve).__name__}."
        )
    ax = _axes(ax)
    ax.plot(x, y, label=label, **line_kwargs)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)  # precision's whole range: a zoomed axis makes weak curves look strong
    if label is not None:
        ax.legend()
    return ax


def _directions(directions):
    if isinstance(directions, str):
        directions = (directions,)
    unknown = set(directions) - set(_DIRECTION_NAMES)
    if unknown or not directions:
        raise ValueError(f"directions must be 'i2t', 't2i' or both, got {directions!r}.")
    return tuple(directions)


def _plot_directions(curve_function, estimator, X_img, X_txt, y, directions, ax, label, curve_kwargs,
                     reference, y_train):
    directions = _directions(directions)
    if reference not in (True, False):
        raise ValueError(f"reference must be True or False, got {reference!r}.")
    ranker = as_ranker(estimator)
    R_img, R_txt = ranker.embed_image(X_img), ranker.embed_text(X_txt)
    y_img, y_txt = split_labels(y, R_img.shape[0], R_txt.shape[0])
    S = np.asarray(ranker.similarity(R_img, R_txt))
    operands = {"i2t": (S, y_img, y_txt), "t2i": (S.T, y_txt, y_img)}
    ax = _axes(ax)
    for direction in directions:
        name = _DIRECTION_NAMES[direction]
        plot_curve(curve_function(*operands[direction], **curve_kwargs), ax=ax,
                   label=name if label is None else f"{label}, {name}")
    if y_train is not None:  # the query-independent ranking, per direction
        for direction in directions:
            _, y_query, y_db = operands[direction]
            prior = class_prior_similarity(y_train, y_db, len(y_query))
            plot_curve(curve_function(prior, y_query, y_db, **curve_kwargs), ax=ax, color="black", linestyle=":",
                       linewidth=2, label=f"class prior (query-independent), {_DIRECTION_NAMES[direction]}")
    if reference:  # a random ranking's expected precision at every rank and recall (the same both ways:
        # the share of (query, item) pairs that are relevant)
        level = random_precision(y_img, y_txt)
        ax.axhline(level, color="gray", linestyle="--", linewidth=1, label="random ranking")
        ax.legend()
    return ax


def plot_precision_recall(
    estimator, X_img, X_txt, y, *, directions=("i2t", "t2i"), recall_levels=None, ax=None, label=None,
    reference=True, y_train=None,
):
    """Precision-recall curves of a fitted estimator, one line per retrieval direction.

    Parameters
    ----------
    estimator : fitted cross-modal estimator or Pipeline ending in one
        What ranks the retrievals (its similarity, learned or cosine).
    X_img : array-like of shape (n_images, n_features_image)
        Image queries (i2t) / database (t2i).
    X_txt : array-like of shape (n_texts, n_features_text)
        Text database (i2t) / queries (t2i).
    y : array-like or tuple ``(y_img, y_txt)``
        Labels defining relevance; a tuple when the two sets differ.
    directions : {"i2t", "t2i"} or tuple of them, default=("i2t", "t2i")
        Which retrieval directions to draw.
    recall_levels : array-like of float, default=None
        Passed to :func:`~skcross.metrics.precision_recall_curve` (None: 11
        levels 0, 0.1, ..., 1).
    ax : matplotlib Axes, default=None
        Where to draw; None makes a new figure.
    label : str, default=None
        Prefix of the legend entries (e.g. the method's name).
    reference : bool, default=True
        Draw the random ranking's level: a gray dashed line at the share of
        (query, item) pairs that are relevant, a random ranking's expected
        precision at every rank, the same in both directions. Draw it once
        when several methods share the axes.
    y_train : array-like, default=None
        Training labels: also draw the curve of the query-independent
        ranking that orders the database by training class frequency
        (:func:`~skcross.metrics.class_prior_similarity`), black dotted. A
        method below it has not used the query.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.linear import CCA
    >>> from skcross.plotting import plot_precision_recall
    >>> X_img, X_txt, y = make_cross_modal(200, random_state=0)
    >>> ax = plot_precision_recall(CCA(2).fit(X_img, X_txt), X_img, X_txt, y, label="CCA")
    >>> len(ax.get_lines())  # two directions and the random level
    3
    """
    return _plot_directions(
        precision_recall_curve, estimator, X_img, X_txt, y, directions, ax, label,
        {"recall_levels": recall_levels}, reference, y_train,
    )


def plot_precision_scope(
    estimator, X_img, X_txt, y, *, directions=("i2t", "t2i"), scopes=None, ax=None, label=None,
    reference=True, y_train=None,
):
    """Precision-scope curves (precision@k against k) of a fitted estimator, per direction.

    Parameters
    ----------
    estimator : fitted cross-modal estimator or Pipeline ending in one
        What ranks the retrievals.
    X_img, X_txt : array-like
        Image and text sets, as in :func:`plot_precision_recall`.
    y : array-like or tuple ``(y_img, y_txt)``
        Labels defining relevance.
    directions : {"i2t", "t2i"} or tuple of them, default=("i2t", "t2i")
        Which retrieval directions to draw.
    scopes : array-like of int, default=None
        Passed to :func:`~skcross.metrics.precision_scope_curve`.
    ax : matplotlib Axes, default=None
        Where to draw; None makes a new figure.
    label : str, default=None
        Prefix of the legend entries.
    reference : bool, default=True
        Draw the random ranking's level: a gray dashed line at the share of
        (query, item) pairs that are relevant, a random ranking's expected
        precision at every rank, the same in both directions. Draw it once
        when several methods share the axes.
    y_train : array-like, default=None
        Training labels: also draw the curve of the query-independent
        ranking that orders the database by training class frequency
        (:func:`~skcross.metrics.class_prior_similarity`), black dotted. A
        method below it has not used the query.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.linear import CCA
    >>> from skcross.plotting import plot_precision_scope
    >>> X_img, X_txt, y = make_cross_modal(200, random_state=0)
    >>> ax = plot_precision_scope(CCA(2).fit(X_img, X_txt), X_img, X_txt, y, directions="i2t")
    >>> ax.get_lines()[0].get_xdata()[:3]
    array([ 1, 11, 22])
    """
    return _plot_directions(
        precision_scope_curve, estimator, X_img, X_txt, y, directions, ax, label, {"scopes": scopes},
        reference, y_train,
    )


def plot_score_vs_parameter(values, scores=None, *, std=None, ax=None, label=None, param_name=None,
                            score_name=None, log_scale=None, scoring=None):
    """A score (e.g. mAP) against the values of one parameter, from arrays or from a fitted search.

    Parameters
    ----------
    values : array-like of shape (n_values,), or a fitted search
        The parameter's values (x-axis; numbers, or strings drawn as
        categories), or a fitted ``GridSearchCV``/``RandomizedSearchCV`` (then
        ``scores`` names the parameter: ``plot_score_vs_parameter(search,
        "cca__reg")``).
    scores : array-like of shape (n_values,), or str
        The score at each value, e.g. ``search.cv_results_["mean_test_score"]``;
        with a search, the parameter's name as in its grid. When the search
        varied other parameters too, each value's point is its best mean
        score over them (and that setting's std).
    std : array-like of shape (n_values,), default=None
        Spread drawn as error bars (e.g. ``std_test_score``; with a search,
        taken from it).
    ax : matplotlib Axes, default=None
        Where to draw; None makes a new figure.
    label : str, default=None
        Legend entry.
    param_name : str, default=None
        x-axis label (with a search: the parameter's name).
    score_name : str, default=None
        y-axis label (default "mAP", or the search's score key).
    log_scale : bool, default=None
        Logarithmic x-axis; None chooses it when the positive values span more
        than two decades.
    scoring : str, default=None
        With a multi-metric search, which score to draw (a key of its
        ``scoring`` dict); default the one it refits on.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skcross.plotting import plot_score_vs_parameter
    >>> ax = plot_score_vs_parameter([1e-3, 1e-1, 10], [0.20, 0.24, 0.23], param_name="reg")
    >>> ax.get_xscale()
    'log'
    """
    if hasattr(values, "estimator") and hasattr(values, "fit") and not hasattr(values, "cv_results_"):
        raise ValueError(f"the {type(values).__name__} is not fitted yet: call its fit() first.")
    if hasattr(values, "cv_results_"):
        values, scores, std, default_names = _search_scores(values, scores, scoring)
        param_name = param_name or default_names[0]
        score_name = score_name or default_names[1]
    elif isinstance(scores, str) or scores is None:
        raise TypeError(
            "plot_score_vs_parameter takes (values, scores) arrays, or a fitted search and a parameter name: "
            f"plot_score_vs_parameter(search, 'cca__reg'); got values of type {type(values).__name__} and "
            f"scores={scores!r}."
        )
    values = np.asarray(values)
    scores = np.asarray(scores, dtype=float)
    if values.ndim != 1 or values.size == 0 or scores.shape != values.shape:
        raise ValueError(
            f"values and scores must be non-empty 1-D arrays of the same length, got shapes "
            f"{values.shape} and {scores.shape}."
        )
    if std is not None:
        std = np.asarray(std, dtype=float)
        if std.shape != values.shape:
            raise ValueError(f"std must have the shape of values {values.shape}, got {std.shape}.")
    numeric = values.dtype.kind in "biuf"
    if not np.all(np.isfinite(scores)) or (numeric and not np.all(np.isfinite(values.astype(float)))):
        raise ValueError("values and scores must be finite.")
    ax = _axes(ax)
    x = values.astype(float) if numeric else np.arange(len(values))
    ax.errorbar(x, scores, yerr=std, marker="o", capsize=3, label=label)
    if not numeric:  # categories (e.g. a metric's name): one tick each
        ax.set_xticks(x, [str(v) for v in values])
    elif log_scale is None:
        positive = x[x > 0]
        log_scale = positive.size == x.size and positive.max() / positive.min() > 100
    if numeric and log_scale:
        ax.set_xscale("log")
    ax.set_xlabel(param_name or "parameter")
    ax.set_ylabel(score_name or "mAP")
    if label is not None:
        ax.legend()
    return ax


def _search_scores(search, param, scoring):
    """Values of ``param`` and the best mean (and its std) of ``scoring`` at each, from a fitted search."""
    results = search.cv_results_
    if not isinstance(param, str):
        raise TypeError(
            f"with a fitted search, the second argument names the parameter to draw, e.g. "
            f"plot_score_vs_parameter(search, 'cca__reg'); got {param!r}."
        )
    varied = sorted(key[len("param_"):] for key in results if key.startswith("param_"))
    if param not in varied:
        raise ValueError(f"the search did not vary {param!r}; its parameters are {varied}.")
    if scoring is None:
        scoring = search.refit if isinstance(search.refit, str) else "score"
    if f"mean_test_{scoring}" not in results:
        keys = sorted(key[len("mean_test_"):] for key in results if key.startswith("mean_test_"))
        raise ValueError(f"scoring={scoring!r} is not among the search's scores {keys}.")
    column = np.asarray(results[f"param_{param}"], dtype=object)
    means = np.asarray(results[f"mean_test_{scoring}"], dtype=float)
    stds = np.asarray(results[f"std_test_{scoring}"], dtype=float)
    values, best, spread = [], [], []
    for value in dict.fromkeys(v for v in column.tolist() if v is not np.ma.masked):
        rows = np.flatnonzero([v == value for v in column.tolist()])
        top = rows[np.nanargmax(means[rows])]
        values.append(value)
        best.append(means[top])
        spread.append(stds[top])
    numeric = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)
    order = np.argsort(values) if numeric else np.arange(len(values))  # categories keep the grid's order
    values = np.array([values[i] if numeric else str(values[i]) for i in order], dtype=float if numeric else object)
    name = scoring if scoring != "score" else "mean test score"
    return values, np.array(best)[order], np.array(spread)[order], (param, name)


def plot_common_space(estimator, X_img, X_txt, y, *, method="pca", ax=None, max_points=1000,
                      random_state=None):
    """A 2-D view of the common space: both modalities' embeddings, coloured by class.

    Images are drawn as circles and texts as triangles; the 2-D projection
    (PCA, or t-SNE) is fitted on both modalities' embeddings together, so
    distances between the two modalities are comparable. The legend (beside
    the axes) names the markers and the classes' colours (the first 20
    classes); multi-label items are coloured by their first label (lowest
    label index), as the title says.

    Parameters
    ----------
    estimator : fitted cross-modal estimator or Pipeline ending in one
        Provides ``transform_image`` and ``transform_text``.
    X_img : array-like of shape (n_images, n_features_image)
        Images to embed.
    X_txt : array-like of shape (n_texts, n_features_text)
        Texts to embed.
    y : array-like or tuple ``(y_img, y_txt)``
        Class labels (colours).
    method : {"pca", "tsne"}, default="pca"
        Projection to two dimensions (scikit-learn's ``PCA`` or ``TSNE``).
    ax : matplotlib Axes, default=None
        Where to draw; None makes a new figure.
    max_points : int, default=1000
        At most this many items per modality are drawn (a random subset).
    random_state : int, RandomState instance or None, default=None
        Seeds the subset and t-SNE.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.linear import CCA
    >>> from skcross.plotting import plot_common_space
    >>> X_img, X_txt, y = make_cross_modal(200, random_state=0)
    >>> ax = plot_common_space(CCA(2).fit(X_img, X_txt), X_img, X_txt, y)
    >>> len(ax.collections)  # images and texts
    2
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    if method not in ("pca", "tsne"):
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}.")
    if not isinstance(max_points, (int, np.integer)) or max_points < 2:
        raise ValueError(f"max_points must be an integer >= 2, got {max_points!r}.")
    ranker = as_ranker(estimator)
    E_img, E_txt = ranker.embed_image(X_img), ranker.embed_text(X_txt)
    if not hasattr(ranker.estimator, "_similarity"):  # a third-party estimator: its public embeddings
        E_img, E_txt = ranker.estimator.transform_image(E_img), ranker.estimator.transform_text(E_txt)
    E_img, E_txt = np.asarray(E_img, dtype=float), np.asarray(E_txt, dtype=float)
    y_img, y_txt = split_labels(y, E_img.shape[0], E_txt.shape[0])
    rng = check_random_state(random_state)
    parts, multilabel = [], False
    for E, labels in ((E_img, y_img), (E_txt, y_txt)):
        labels = np.asarray(labels)
        if labels.shape[0] != E.shape[0]:
            raise ValueError(f"y has {labels.shape[0]} labels for {E.shape[0]} items.")
        if labels.ndim == 2:  # multi-label: first label of each item
            multilabel = True
            labels = np.where(labels.any(axis=1), labels.argmax(axis=1), -1)
        keep = np.sort(rng.choice(E.shape[0], size=min(max_points, E.shape[0]), replace=False))
        parts.append((E[keep], labels[keep]))
    stacked = np.vstack([E for E, _ in parts])
    if method == "pca":
        points = PCA(n_components=2, random_state=random_state).fit_transform(stacked)
    else:
        perplexity = min(30.0, (stacked.shape[0] - 1) / 3)
        points = TSNE(n_components=2, perplexity=perplexity, random_state=random_state).fit_transform(stacked)
    classes = np.unique(np.concatenate([labels for _, labels in parts]))
    colour_of = {c: i for i, c in enumerate(classes)}
    cmap = _pyplot().get_cmap("tab10" if len(classes) <= 10 else "tab20")
    vmax = max(len(classes) - 1, 1)
    ax = _axes(ax)
    start = 0
    for (E, labels), marker, name in zip(parts, ("o", "^"), ("image", "text")):
        xy = points[start:start + E.shape[0]]
        start += E.shape[0]
        ax.scatter(xy[:, 0], xy[:, 1], c=[colour_of[c] for c in labels], cmap=cmap, vmin=0, vmax=vmax,
                   marker=marker, s=12, alpha=0.7, label=name)
    projection = "PCA" if method == "pca" else "t-SNE"
    axis = "component" if method == "pca" else "dimension"
    ax.set_xlabel(f"{projection} {axis} 1 (of both modalities' embeddings)")
    ax.set_ylabel(f"{projection} {axis} 2")
    colour = "first label of each item (lowest index)" if multilabel else "class"
    ax.set_title(f"common space ({projection}); colour = {colour}", fontsize="medium")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], linestyle="", marker=m, markerfacecolor="none", color="black", label=n)
               for m, n in (("o", "image"), ("^", "text"))]
    shown = classes[:20]
    handles += [Line2D([], [], linestyle="", marker="s", color=cmap(colour_of[c] / vmax if len(classes) > 1 else 0),
                       label="no label" if multilabel and c == -1 else str(c)) for c in shown]
    kind = "first label" if multilabel else "class"
    title = f"modality, {kind}" if len(shown) == len(classes) else f"modality, {kind} (20 of {len(classes)})"
    ax.legend(handles=handles, title=title, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def top_captions(estimator, X_img_queries, X_txt, k=5):
    """The ``k`` best-ranked text rows for each image query: (n_queries, k) indices, ties by database order."""
    ranker = as_ranker(estimator)
    S = np.asarray(ranker.similarity(ranker.embed_image(X_img_queries), ranker.embed_text(X_txt)))
    return np.argsort(-S, axis=1, kind="stable")[:, :k]


def draw_retrieved_captions(queries, retrieved, *, title=None, wrap=48):
    """Draw query images and each method's ranked captions, the relevant ones marked; the Figure.

    ``queries`` is a list of image files (or PIL images / uint8 arrays);
    ``retrieved`` maps a method's name to, per query, a list of
    ``(caption, relevant)`` pairs in rank order. One row per query: the image,
    then one column per method.
    """
    import textwrap

    from PIL import Image

    plt = _pyplot()
    names = list(retrieved)
    k = max(len(ranked) for lists in retrieved.values() for ranked in lists)
    fig, axes = plt.subplots(len(queries), 1 + len(names), squeeze=False,
                             figsize=(2.6 + 4.3 * len(names), 2.5 * len(queries) + 0.7),
                             gridspec_kw={"width_ratios": [2.2] + [4.3] * len(names)})
    for q, query in enumerate(queries):
        ax = axes[q, 0]
        image = query
        if isinstance(query, (str, os.PathLike)):
            with Image.open(query) as opened:
                image = opened.convert("RGB")
        ax.imshow(np.asarray(image))
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(f"query {q + 1}", fontsize=9)
        for m, name in enumerate(names):
            ax = axes[q, 1 + m]
            ax.axis("off")
            if q == 0:
                ax.set_title(name, fontsize=10, fontweight="bold")
            lines = retrieved[name][q]
            for r, (caption, relevant) in enumerate(lines):
                text = textwrap.shorten(caption, width=2 * wrap, placeholder=" ...")
                text = "\n    ".join(textwrap.wrap(text, wrap))
                ax.text(0.0, 1.0 - r / k, f"{r + 1}. {'✓' if relevant else '✗'} {text}", va="top", ha="left",
                        fontsize=8.5, color="#1a7f37" if relevant else "#b42318", transform=ax.transAxes)
    fig.suptitle(title or "Top captions of each image query (✓ = a caption of the query image)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


def plot_retrieved_captions(estimators, images, X_img, X_txt, captions, groups, *, n_queries=3, k=5,
                            random_state=0):
    """Show what retrieval returns: query images beside each model's top-``k`` captions, relevant ones marked.

    The figure every image-text paper shows: a few test images (drawn with
    ``random_state``), each with the captions every model ranks first; a
    caption is relevant (green, ✓) when it describes the query image
    (``groups``), wrong (red, ✗) otherwise.

    Parameters
    ----------
    estimators : dict of str -> fitted estimator, or one fitted estimator
        The models to compare (a Pipeline ending in one works).
    images : sequence of path-like, PIL images or uint8 arrays
        The image of each group: ``images[g]`` is drawn for group ``g``.
    X_img : array-like of shape (n_pairs, n_features_image)
        The images as the estimators take them, one row per pair (row ``i``
        shows ``images[groups[i]]``).
    X_txt : array-like of shape (n_pairs, n_features_text)
        The texts as the estimators take them, the database.
    captions : sequence of str of length n_pairs
        The text of each row of ``X_txt``.
    groups : array-like of shape (n_pairs,)
        The image of each pair (an index into ``images``).
    n_queries : int, default=3
        Query images drawn.
    k : int, default=5
        Captions shown per model.
    random_state : int, RandomState or None, default=0
        Draws the queries.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from skcross.plotting import plot_retrieved_captions
    >>> fig = plot_retrieved_captions({"CCA": cca}, raw.images_test, d.X_img_test, d.X_txt_test,
    ...                               d.captions_test, d.groups_test)  # doctest: +SKIP
    >>> fig.savefig("retrieved.png")  # doctest: +SKIP
    """
    if not isinstance(estimators, dict):
        estimators = {type(estimators).__name__: estimators}
    if not estimators:
        raise ValueError("estimators is empty; give at least one fitted estimator.")
    groups = np.asarray(groups)
    n_pairs = len(groups)
    for name, value in (("X_img", X_img), ("X_txt", X_txt), ("captions", captions)):
        if len(value) != n_pairs:
            raise ValueError(f"{name} has {len(value)} rows but groups has {n_pairs}: one row per pair.")
    if groups.ndim != 1 or groups.dtype.kind not in "iu" or groups.min() < 0 or groups.max() >= len(images):
        raise ValueError(f"groups must hold, for each pair, its image's index into images (0 to {len(images) - 1}).")
    for name, value in (("n_queries", n_queries), ("k", k)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    rows = query_rows(groups, n_queries, random_state)
    retrieved = {name: [[(captions[t], bool(groups[t] == groups[row])) for t in ranked]
                        for row, ranked in zip(rows, top_captions(model, _take(X_img, rows), X_txt, k))]
                 for name, model in estimators.items()}
    return draw_retrieved_captions([images[groups[row]] for row in rows], retrieved)


def query_rows(groups, n_queries, random_state=0):
    """The first pair row of ``n_queries`` images drawn from ``groups`` (sorted by image)."""
    images, first = np.unique(np.asarray(groups), return_index=True)
    chosen = np.sort(check_random_state(random_state).choice(len(images), min(n_queries, len(images)), replace=False))
    return first[chosen]


def _take(X, rows):
    return X[rows] if hasattr(X, "shape") else [X[r] for r in rows]
