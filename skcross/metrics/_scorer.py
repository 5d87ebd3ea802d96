"""Cross-modal evaluation of fitted estimators, both directions, and scorers for model selection.

Every function here reduces :func:`~skcross.metrics.rank_both_ways`; the
scorers are a table of these public functions (as scikit-learn's
``_SCORERS`` table of its metrics).
"""

import re
from typing import Callable, NamedTuple

import numpy as np
from sklearn.utils.metadata_routing import MetadataRequest

from .._paired import PairedData
from ._checks import _check_average, _check_embeddings, _check_similarity_function
from ._instance import DEFAULT_KS, cross_modal_instance_scores
from ._ranking import Statistic, rank_both_ways

__all__ = ["cross_modal_map", "cross_modal_precision", "cross_modal_recall", "get_scorer", "get_scorer_names",
           "get_scorers", "map_both_ways"]


def _two_way(ranking, X_img, X_txt, y, statistic, average, n_jobs=None, device=None):
    """``{"i2t", "t2i", "mean"}``: one statistic's metric in both directions, averaged over queries or classes."""
    _check_average(average, y)
    values = rank_both_ways(ranking, X_img, X_txt, y, statistics=[statistic], n_jobs=n_jobs, device=device)
    scores = {direction: both.reduce(0, average) for direction, both in values.items()}
    scores["mean"] = (scores["i2t"] + scores["t2i"]) / 2
    return scores


def map_both_ways(E_img, E_txt, y=None, *, similarity=None, k=None, average="queries", n_jobs=None, device=None):
    """Image-to-text and text-to-image mAP of embeddings: the pure metric behind ``score``.

    What :func:`cross_modal_map` computes once an estimator has embedded both
    sets (as scikit-learn's ``score`` calls ``accuracy_score`` on
    predictions).

    Parameters
    ----------
    E_img : array-like of shape (n_images, n_components)
        Image embeddings (queries for i2t, database for t2i).
    E_txt : array-like of shape (n_texts, n_components)
        Text embeddings.
    y : array-like, tuple of two array-likes, or None, default=None
        Labels as in :func:`cross_modal_map`.
    similarity : callable, default=None
        ``similarity(E_img_rows, E_txt_rows)`` -> images x texts; None is the
        cosine of the embeddings (normalised once).
    k : int, default=None
        Cut-off rank (None: mAP@all).
    average : {"queries", "classes"}, default="queries"
        Mean over queries, or over query classes (class-balanced mAP, see
        :func:`~skcross.metrics.average_over_classes`).
    n_jobs : int, default=None
        Threads ranking blocks of queries in parallel.
    device : str, default=None
        Torch device for the cosine and the ranking (None: NumPy).

    Returns
    -------
    scores : dict
        ``{"i2t": float, "t2i": float, "mean": float}``.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.metrics import map_both_ways
    >>> E = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
    >>> map_both_ways(E, E, [0, 1, 0])["mean"]
    1.0
    """
    E_img, E_txt = _check_embeddings(E_img, E_txt)
    return _two_way(_check_similarity_function(similarity), E_img, E_txt, y, Statistic("ap", k), average, n_jobs,
                    device)


def cross_modal_map(estimator, X_img, X_txt, y=None, k=None, *, average="queries", n_jobs=None, device=None):
    """Image-to-text and text-to-image mAP of a fitted estimator.

    Every image queries all texts (``"i2t"``) and every text queries all
    images (``"t2i"``), ranked by the estimator's similarity. Similarities are
    computed one block of queries at a time, so memory stays bounded.

    Parameters
    ----------
    estimator : fitted skcross estimator or Pipeline ending in one
        The model; a Pipeline's transformers are applied to the pairs first.
    X_img : {array-like, sparse matrix} of shape (n_images, n_features_image)
        Image features (queries for i2t, database for t2i).
    X_txt : {array-like, sparse matrix} of shape (n_texts, n_features_text)
        Text features.
    y : array-like, tuple of two array-likes, or None, default=None
        Labels of the pairs (1-D classes or 2-D 0/1 indicators), or
        ``(y_img, y_txt)`` for sets of different sizes. None means the only
        relevant item of a query is its own pair (``n_images == n_texts``).
    k : int, default=None
        Cut-off rank for mAP@k; None ranks the whole database (mAP@all). A
        ``k`` larger than a direction's database is clipped to its size.
    average : {"queries", "classes"}, default="queries"
        "queries": the mean over queries (the field's mAP). "classes": the
        class-balanced mAP, the mean over each direction's query classes of
        the class's mAP (:func:`~skcross.metrics.average_over_classes`);
        needs ``y``.
    n_jobs : int, default=None
        Number of threads ranking blocks of queries in parallel; None means 1,
        -1 all cores. Memory stays bounded: each block holds at most about
        four million similarities, and at most ``2 * n_jobs`` blocks exist at
        once.
    device : str, default=None
        Rank on a torch device (``"cuda"``, ``"cuda:1"``, ``"cpu"``; needs
        torch): cosine similarities are then also computed there. None ranks
        with NumPy.

    Returns
    -------
    scores : dict
        ``{"i2t": float, "t2i": float, "mean": float}``.

    See Also
    --------
    skcross.metrics.mean_average_precision : The metric on a similarity matrix.

    Examples
    --------
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.linear import CCA
    >>> from skcross.metrics import cross_modal_map
    >>> X_img, X_txt, y = make_cross_modal(200, random_state=0)
    >>> est = CCA(n_components=4).fit(X_img[:150], X_txt[:150])
    >>> scores = cross_modal_map(est, X_img[150:], X_txt[150:], y[150:])
    >>> sorted(scores)
    ['i2t', 'mean', 't2i']
    """
    return _two_way(estimator, X_img, X_txt, y, Statistic("ap", k), average, n_jobs, device)


def cross_modal_precision(estimator, X_img, X_txt, y=None, k=10, *, average="queries", n_jobs=None):
    """Image-to-text and text-to-image precision@k of a fitted estimator.

    Parameters
    ----------
    estimator : fitted skcross estimator or Pipeline ending in one
        The model.
    X_img : {array-like, sparse matrix} of shape (n_images, n_features_image)
        Image features.
    X_txt : {array-like, sparse matrix} of shape (n_texts, n_features_text)
        Text features.
    y : array-like, tuple of two array-likes, or None, default=None
        Labels as in :func:`cross_modal_map`.
    k : int, default=10
        Number of top-ranked items looked at; a ``k`` larger than a
        direction's database is clipped to its size.
    average : {"queries", "classes"}, default="queries"
        The mean over queries, or over each direction's query classes
        (:func:`~skcross.metrics.average_over_classes`; needs ``y``).
    n_jobs : int, default=None
        Number of threads ranking blocks of queries in parallel; None means 1.

    Returns
    -------
    scores : dict
        ``{"i2t": float, "t2i": float, "mean": float}``: the mean share of
        relevant items among each query's top ``k``.

    Examples
    --------
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.linear import CCA
    >>> from skcross.metrics import cross_modal_precision
    >>> X_img, X_txt, y = make_cross_modal(200, random_state=0)
    >>> est = CCA(n_components=4).fit(X_img[:150], X_txt[:150])
    >>> 0 <= cross_modal_precision(est, X_img[150:], X_txt[150:], y[150:], k=5)["mean"] <= 1
    True
    """
    return _two_way(estimator, X_img, X_txt, y, Statistic("hits", k), average, n_jobs)


def cross_modal_recall(estimator, X_img, X_txt, y=None, k=1, *, average="queries", n_jobs=None):
    """Image-to-text and text-to-image Recall@k of a fitted estimator.

    Parameters
    ----------
    estimator : fitted skcross estimator or Pipeline ending in one
        The model.
    X_img : {array-like, sparse matrix} of shape (n_images, n_features_image)
        Image features.
    X_txt : {array-like, sparse matrix} of shape (n_texts, n_features_text)
        Text features.
    y : array-like, tuple of two array-likes, or None, default=None
        Labels as in :func:`cross_modal_map`; None (the usual protocol) means
        a query succeeds when its own pair is in the top ``k``.
    k : int, default=1
        Number of top-ranked items looked at; a ``k`` larger than a
        direction's database is clipped to its size.
    average : {"queries", "classes"}, default="queries"
        "queries": the share of queries that succeed; "classes": the mean
        over each direction's query classes of the class's share
        (:func:`~skcross.metrics.average_over_classes`); needs ``y``.
    n_jobs : int, default=None
        Number of threads ranking blocks of queries in parallel; None means 1.

    Returns
    -------
    scores : dict
        ``{"i2t": float, "t2i": float, "mean": float}``.

    Examples
    --------
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.linear import CCA
    >>> from skcross.metrics import cross_modal_recall
    >>> X_img, X_txt, _ = make_cross_modal(200, random_state=0)
    >>> est = CCA(n_components=4).fit(X_img, X_txt)
    >>> 0 <= cross_modal_recall(est, X_img, X_txt, k=10)["mean"] <= 1
    True
    """
    return _two_way(estimator, X_img, X_txt, y, Statistic("found", k), average, n_jobs)


# ----------------------------------------------------------------------------
# scorers: a table of the public metrics (scikit-learn's _SCORERS style)
# ----------------------------------------------------------------------------
def _instance_metric(key, sign=1):
    """A function ``(estimator, X_img, X_txt, groups, k, average)`` of one instance score, both directions."""
    def metric(estimator, X_img, X_txt, groups, k=None, average="queries"):
        scores = cross_modal_instance_scores(estimator, X_img, X_txt, groups, ks=DEFAULT_KS if k is None else (k,))
        if key == "rsum":
            return {"mean": scores["rsum"]}
        values = {d: sign * scores[d][key if k is None else f"R@{k}"] for d in ("i2t", "t2i")}
        return {**values, "mean": float(np.mean(list(values.values())))}

    return metric


class _Scorer(NamedTuple):
    """A row of the scorer table: the public metric a name calls, and what the name may carry."""

    metric: Callable  # (estimator, X_img, X_txt, y_or_groups, k=, average=) -> {"i2t", "t2i", "mean"}
    k: str  # "required", "optional" or "none": the "@K" of the name
    balanced: bool = False  # "balanced_" allowed (averaged over query classes)
    direction: bool = True  # "_i2t" / "_t2i" allowed
    instance: bool = False  # relevance is the image (X carries groups), not the class labels


# negated ranks make greater better, as scikit-learn's neg_* scorers
_SCORERS = {
    "map": _Scorer(cross_modal_map, "optional", balanced=True),
    "precision": _Scorer(cross_modal_precision, "required", balanced=True),
    "recall": _Scorer(cross_modal_recall, "required"),
    "instance_map": _Scorer(_instance_metric("map"), "none", instance=True),
    "instance_recall": _Scorer(_instance_metric("R@k"), "required", instance=True),
    "instance_rsum": _Scorer(_instance_metric("rsum"), "none", direction=False, instance=True),
    "neg_instance_medr": _Scorer(_instance_metric("medr", -1), "none", instance=True),
    "neg_instance_meanr": _Scorer(_instance_metric("meanr", -1), "none", instance=True),
}
# a scorer name: [balanced_]metric[@K][_i2t|_t2i], the metric a key of _SCORERS
_SCORER_NAME = re.compile(r"^(?P<balanced>balanced_)?(?P<metric>" + "|".join(sorted(_SCORERS, key=len)[::-1])
                          + r")(?:@(?P<k>[1-9][0-9]*))?(?:_(?P<direction>i2t|t2i))?$")


class _CrossModalScorer:
    """Picklable ``scorer(estimator, X, y)``: a row of ``_SCORERS`` called with the name's K, averaging and direction."""

    def __init__(self, name, metric, k, direction, average):
        self.name = name
        self.metric = metric
        self.k = k
        self.direction = direction
        self.average = average

    def __call__(self, estimator, X, y=None):
        row = _SCORERS[self.metric]
        if row.instance:
            if not isinstance(X, PairedData) or X.groups is None:
                raise TypeError(
                    f"The {self.name!r} scorer needs to know which pairs show the same image: pass X as "
                    "skcross.paired(X_img, X_txt, groups=groups) (groups: the image of each pair); "
                    f"got {type(X).__name__} without groups."
                )
            X_img, X_txt, y = X.image, X.text, X.groups
        elif isinstance(X, PairedData):
            X_img, X_txt = X.image, X.text
        elif isinstance(X, tuple) and len(X) == 2:
            X_img, X_txt = X
        else:
            raise TypeError(
                f"The {self.name!r} scorer needs X as a PairedData (skcross.paired(X_img, X_txt)) "
                f"or, for sets of different sizes, a tuple (X_img, X_txt); got {type(X).__name__}."
            )
        return row.metric(estimator, X_img, X_txt, y, k=self.k, average=self.average)[self.direction]

    # scikit-learn's metadata routing: the metrics take no metadata besides y
    def get_metadata_routing(self):
        """The scorer's metadata request: empty, skcross metrics take no metadata (``y`` is not metadata).

        Returns
        -------
        routing : MetadataRequest
            A request that asks for nothing.
        """
        return MetadataRequest(owner=self.name)

    def set_score_request(self, **kwargs):
        """Part of scikit-learn's metadata routing: the scorer accepts no metadata.

        Parameters
        ----------
        **kwargs : dict
            Must be empty: a request for any metadata (e.g. ``sample_weight``)
            raises, since the cross-modal metrics would ignore it.

        Returns
        -------
        self : object
            The scorer.
        """
        if kwargs:
            raise TypeError(
                f"The {self.name!r} scorer takes no metadata, so it cannot request {sorted(kwargs)}; "
                "retrieval metrics weight every query equally."
            )
        return self

    def __repr__(self):
        return f"get_scorer({self.name!r})"


def get_scorer_names():
    """Names accepted by :func:`get_scorer` (``@K`` works with any positive K).

    Returns
    -------
    names : list of str
        Scorer names, sorted.

    Examples
    --------
    >>> from skcross.metrics import get_scorer_names
    >>> "map" in get_scorer_names() and "recall@10" in get_scorer_names()
    True
    """
    examples = {"map": (None, 10, 50, 100), "precision": (10, 50), "recall": (1, 5, 10), "instance_recall": (1, 5, 10)}
    return sorted(
        ("balanced_" if average == "classes" else "") + metric + ("" if k is None else f"@{k}")
        + ("" if direction == "mean" else f"_{direction}")
        for metric, row in _SCORERS.items()
        for k in ((None,) if row.k == "none" else examples[metric])
        for average in (("queries", "classes") if row.balanced else ("queries",))
        for direction in (("mean", "i2t", "t2i") if row.direction else ("mean",))
    )


def get_scorer(scoring):
    """A scorer ``scorer(estimator, X, y)`` for model selection on paired data.

    Parameters
    ----------
    scoring : str or callable
        ``"map"`` (mean of both directions), ``"map_i2t"``, ``"map_t2i"``,
        ``"map@K"`` (mAP@K, optionally ``_i2t``/``_t2i``), ``"precision@K"``
        or ``"recall@K"`` (Recall@K: a relevant item in the top K), for any
        positive integer K; a K larger than a fold's database is clipped to
        its size. Instance retrieval (relevant = the same image; ``X``
        must carry ``groups``, see :class:`~skcross.PairedData`):
        ``"instance_recall@K"``, ``"instance_map"``, ``"instance_rsum"``
        (the sum of R@1, R@5 and R@10 both ways), ``"neg_instance_medr"``
        and ``"neg_instance_meanr"`` (ranks negated so that greater is
        better, as scikit-learn's ``neg_*`` scorers). The prefix ``"balanced_"`` (``"balanced_map"``,
        ``"balanced_precision@10_t2i"``) averages over query classes instead
        of queries (class-balanced, see
        :func:`~skcross.metrics.average_over_classes`). A callable is
        returned unchanged.

    Returns
    -------
    scorer : callable
        A new scorer object ``scorer(estimator, X, y)``; ``X`` is a
        :class:`~skcross.PairedData`, or a tuple ``(X_img, X_txt)`` for sets of
        different sizes (then ``y=(y_img, y_txt)``). Works on a fitted
        estimator or a Pipeline ending in one, and pickles.

    Examples
    --------
    >>> from skcross.metrics import get_scorer
    >>> get_scorer("map@100_i2t")
    get_scorer('map@100_i2t')
    """
    if callable(scoring):
        return scoring
    match = _SCORER_NAME.match(scoring) if isinstance(scoring, str) else None
    row = None if match is None else _SCORERS[match["metric"]]
    if (row is None or (match["balanced"] and not row.balanced) or (match["direction"] and not row.direction)
            or (match["k"] is None and row.k == "required") or (match["k"] is not None and row.k == "none")):
        raise ValueError(
            f"{scoring!r} is not a valid scoring value; use one of {get_scorer_names()} "
            "(any positive K in '@K'; 'precision' and 'recall' need '@K'; 'balanced_' goes with map and precision)."
        )
    return _CrossModalScorer(scoring, match["metric"], None if match["k"] is None else int(match["k"]),
                             match["direction"] or "mean", "classes" if match["balanced"] else "queries")


def get_scorers(scoring):
    """Several scorers at once, in the form scikit-learn's ``scoring=`` takes for multi-metric evaluation.

    scikit-learn resolves a *string* in ``scoring=`` against its own registry
    of scorer names, which offers no public way to add names (patching its
    private registry would change scikit-learn for the whole process), so
    ``cross_val_score(CCA(), X, y, scoring="map")`` cannot work. Pass
    ``get_scorer("map")`` for one metric, this function's dict for several,
    or nothing: every skcross estimator's ``score`` is the mean mAP@all, so
    ``scoring=None`` ranks by it.

    Parameters
    ----------
    scoring : str, list of str or dict
        Names accepted by :func:`get_scorer`: one name, a list of names (the
        keys are the names), or a dict ``{key: name}`` (the keys are yours,
        e.g. ``{"t2i": "map_t2i"}``).

    Returns
    -------
    scorers : dict
        ``{key: scorer}``, for ``GridSearchCV(scoring=..., refit=key)``,
        ``cross_validate`` and ``RandomizedSearchCV``; results appear as
        ``cv_results_["mean_test_<key>"]``.

    Examples
    --------
    >>> from sklearn.model_selection import cross_validate
    >>> from skcross import paired
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.linear import CCA
    >>> from skcross.metrics import get_scorers
    >>> X_img, X_txt, y = make_cross_modal(120, n_classes=3, random_state=0)
    >>> scores = cross_validate(CCA(2), paired(X_img, X_txt), y, cv=3,
    ...                         scoring=get_scorers({"i2t": "map_i2t", "t2i": "map_t2i"}))
    >>> sorted(key for key in scores if key.startswith("test_"))
    ['test_i2t', 'test_t2i']
    """
    if isinstance(scoring, str):
        names = {scoring: scoring}
    elif isinstance(scoring, dict):
        names = dict(scoring)
    elif isinstance(scoring, (list, tuple)):
        names = {name: name for name in scoring}
        if len(names) != len(scoring):
            raise ValueError(f"scoring lists a name twice: {list(scoring)!r}.")
    else:
        raise TypeError(
            f"scoring must be a scorer name, a list of names or a dict {{key: name}}, got {type(scoring).__name__}."
        )
    if not names:
        raise ValueError("scoring names no scorer; give at least one name, e.g. get_scorers(['map', 'map@50']).")
    for key in names:
        if not isinstance(key, str):
            raise TypeError(f"scoring's keys must be strings (they name cv_results_ columns), got {key!r}.")
    return {key: get_scorer(name) for key, name in names.items()}
