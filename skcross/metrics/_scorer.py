"""Cross-modal evaluation of fitted estimators, and scorers for model selection."""

import re
from typing import Callable, NamedTuple

import numpy as np
from sklearn.preprocessing import normalize
from sklearn.utils.metadata_routing import MetadataRequest
from sklearn.utils.validation import check_is_fitted

from .._paired import PairedData
from ..utils._device import resolve_device
from ..utils._memory import fits_in_one_block
from ..utils._modality_steps import modality_steps, through_steps
from ._instance import DEFAULT_KS, _check_ids, _instance_two_way, unique_images
from ._ranking import Statistic, _average, _check_average, _check_k, _mean_precision, per_direction_statistics

__all__ = ["instance_scores_both_ways", "cross_modal_instance_scores", "cross_modal_map", "cross_modal_recall", "get_scorer", "get_scorer_names"]

def _as_rows(X):
    """Something whose rows can be sliced with ``X[rows]`` (arrays, sparse matrices and lists)."""
    return X if hasattr(X, "shape") else np.asarray(X)


class Ranker(NamedTuple):
    """How an estimator ranks retrievals, as :func:`as_ranker` reads it.

    Attributes
    ----------
    estimator : object
        The cross-modal estimator at the end (a Pipeline's last step).
    embed_image, embed_text : callable
        One modality's rows to what ``similarity`` compares (a Pipeline's
        transformers, then the estimator's embedding).
    similarity : callable
        ``similarity(E_img, E_txt)``: images x texts, larger is more similar.
    cosine : bool
        Whether ``similarity`` is the cosine of the embeddings (declared by
        the estimator): rankings then normalise each embedding once.
    """

    estimator: object
    embed_image: Callable
    embed_text: Callable
    similarity: Callable
    cosine: bool


def as_ranker(estimator):
    """The one adapter from an estimator to its ranking: embed each modality, then compare.

    ``embed_image(X)`` / ``embed_text(X)`` take one modality's rows to what
    ``similarity(E_img, E_txt)`` compares. A Pipeline's transformers (a
    skcross :class:`~skcross.pipeline.Pipeline` or scikit-learn's) are
    applied to each modality on its own (``transform_image`` /
    ``transform_text`` of each step, e.g. a
    :class:`~skcross.preprocessing.ModalityTransformer`), so sets of any
    sizes, and one modality alone as a retrieval index needs, can be
    embedded. A skcross estimator is served by its embeddings and its
    similarity hook on embeddings (each item embedded once, not once per
    pair); any other estimator with the public ``transform_image``,
    ``transform_text`` and ``similarity`` methods by ``similarity`` on its
    inputs. The metrics, the scorers, the retrieval index and the plots all
    rank through it.

    Parameters
    ----------
    estimator : cross-modal estimator or Pipeline ending in one
        The model (fitted before the returned functions are called).

    Returns
    -------
    ranker : Ranker
        ``(estimator, embed_image, embed_text, similarity, cosine)``.

    Examples
    --------
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.linear import CCA
    >>> from skcross.metrics import as_ranker
    >>> X_img, X_txt, _ = make_cross_modal(100, random_state=0)
    >>> ranker = as_ranker(CCA(2).fit(X_img, X_txt))
    >>> ranker.cosine, ranker.similarity(ranker.embed_image(X_img[:3]), ranker.embed_text(X_txt)).shape
    (True, (3, 100))
    """
    final, transformers = estimator, []
    steps = getattr(estimator, "steps", None)
    if steps is not None:
        transformers, final = modality_steps(steps), steps[-1][1]
    if not all(hasattr(final, method) for method in ("transform_image", "transform_text", "similarity")):
        raise TypeError(
            f"{type(final).__name__} is not a cross-modal estimator: it needs transform_image, "
            "transform_text and similarity methods (see 'Writing your own estimator' in the user guide)."
        )

    if hasattr(final, "_similarity"):  # a skcross estimator: rank embeddings with its similarity hook
        return Ranker(final, lambda X: final.transform_image(through_steps(transformers, X, "image")),
                      lambda X: final.transform_text(through_steps(transformers, X, "text")), final._similarity,
                      _ranks_by_cosine(final))
    return Ranker(final, lambda X: _as_rows(through_steps(transformers, X, "image")),
                  lambda X: _as_rows(through_steps(transformers, X, "text")), final.similarity, False)


def _ranking_space(estimator, X_img, X_txt):
    """``(ranker, E_img, E_txt)``: both sets embedded as :func:`as_ranker` says."""
    ranker = as_ranker(estimator)
    E_img, E_txt = ranker.embed_image(X_img), ranker.embed_text(X_txt)
    check_is_fitted(ranker.estimator)
    return ranker, E_img, E_txt


def split_labels(y, n_images, n_texts):
    """``(y_img, y_txt)`` from the labels a user passed, checked against the number of rows.

    Parameters
    ----------
    y : array-like, tuple ``(y_img, y_txt)`` or None
        Labels of the pairs (one per pair when the sets are paired), or one
        array per modality.
    n_images, n_texts : int
        Rows of the image and the text set.

    Returns
    -------
    y_img, y_txt : array-like or None
        Each modality's labels (the same array twice for pairs).

    Examples
    --------
    >>> from skcross.metrics import split_labels
    >>> split_labels([0, 1, 1], 3, 3)
    ([0, 1, 1], [0, 1, 1])
    """
    n_img, n_txt = n_images, n_texts
    if isinstance(y, tuple) and len(y) == 2:
        for labels, n, modality in ((y[0], n_img, "img"), (y[1], n_txt, "txt")):
            if labels is not None and _n_labels(labels) != n:
                raise ValueError(
                    f"y_{modality} has {_n_labels(labels)} labels but X_{modality} has {n} rows: "
                    "give one label per row."
                )
        return y
    if n_img != n_txt:
        raise ValueError(
            f"X_img has {n_img} rows and X_txt {n_txt}: evaluating unpaired sets needs "
            "y=(y_img, y_txt)."
        )
    if y is not None and _n_labels(y) != n_img:
        raise ValueError(
            f"y has {_n_labels(y)} labels but X_img and X_txt have {n_img} rows: give one label per pair "
            "(the labels of the rows you evaluate, e.g. y_test for X_img_test, X_txt_test)."
        )
    return y, y


def _n_labels(y):
    return y.shape[0] if hasattr(y, "shape") else len(y)


def _cross_modal_scores(estimator, X_img, X_txt, y, *, what, k, n_jobs, device=None, average="queries"):
    """An estimator's two-way scores: its ranker's embeddings, then :func:`_two_way_scores`."""
    _check_average(average, y)
    ranker, E_img, E_txt = _ranking_space(estimator, X_img, X_txt)
    return _two_way_scores(E_img, E_txt, y, None if ranker.cosine else ranker.similarity, what=what, k=k,
                           n_jobs=n_jobs, device=device, name=type(ranker.estimator).__name__, average=average)


def _block_similarities(E_img, E_txt, similarity, device=None, name="the estimator"):
    """``(i2t, t2i)``: functions of query rows giving that block's similarities to the whole other set.

    ``similarity`` None is the cosine: every embedding is normalised once
    (on ``device`` when given, already resolved by the caller), then each
    block is one matrix product. Every block is checked to be finite. A matrix that fits in one block of the
    working memory (``skcross.utils._memory``) is computed once and shared
    by both directions; beyond it each direction computes its own blocks.
    """
    if similarity is None and device is not None:  # cosine blocks made as torch tensors, kept there
        import torch

        as_block, finite = (lambda S: S), (lambda S: bool(torch.isfinite(S).all()))
        transposed = lambda S: S.T.contiguous()  # noqa: E731
        def unit(Z):
            return torch.nn.functional.normalize(torch.as_tensor(np.ascontiguousarray(Z), device=device), dim=1)
    else:
        as_block, finite, unit = np.asarray, (lambda S: np.isfinite(S).all()), normalize
        # rows in memory order: the ranking sorts along them (a transposed view sorts several times slower)
        transposed = lambda S: np.ascontiguousarray(S.T)  # noqa: E731
    if similarity is None:
        E_img, E_txt, similarity = unit(E_img), unit(E_txt), lambda A, B: A @ B.T

    def checked(block_similarity):
        def block(rows):
            S_block = block_similarity(rows)
            if not finite(S_block):
                raise ValueError(f"{name} produced NaN or infinite similarities.")
            return S_block

        return block

    if fits_in_one_block(E_img.shape[0] * E_txt.shape[0]):
        # small enough to hold: compute the similarities once and rank both directions from them
        # (halves the cost of a learned metric such as UNCSM's metric network)
        S = as_block(similarity(E_img, E_txt))
        return checked(lambda rows: S[rows]), checked(lambda rows: transposed(S[:, rows]))
    return (checked(lambda rows: as_block(similarity(E_img[rows], E_txt))),
            checked(lambda rows: transposed(as_block(similarity(E_img, E_txt[rows])))))


def _two_way_scores(E_img, E_txt, y, similarity, *, what, k, n_jobs, device=None, name="the estimator",
                    average="queries"):
    """Both directions' mean of the per-query statistic ``what`` at ``k`` (``"hits"``: precision, hits over k),
    over queries or their classes; similarities made block by block (None: cosine)."""
    _check_average(average, y)
    n_img, n_txt = E_img.shape[0], E_txt.shape[0]
    y_img, y_txt = split_labels(y, n_img, n_txt)
    if device is not None:
        device = resolve_device(device)
    i2t, t2i = _block_similarities(E_img, E_txt, similarity, device, name)
    values = per_direction_statistics((n_img, y_img, i2t), (n_txt, y_txt, t2i),
                                      lambda n_db: [Statistic(what, _check_k(k, n_db))], n_jobs, device)
    scores = {}
    for direction, y_q, n_db in (("i2t", y_img, n_txt), ("t2i", y_txt, n_img)):
        (v,) = values[direction]
        scores[direction] = (_mean_precision(v, _check_k(k, n_db), y_q, average) if what == "hits"
                             else _average(v.astype(np.float64), y_q, average))
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
    if similarity is not None and not callable(similarity):
        raise TypeError(f"similarity must be a callable or None (cosine), got {type(similarity).__name__}.")
    return _two_way_scores(E_img, E_txt, y, similarity, what="ap", k=k, n_jobs=n_jobs,
                           device=device, average=average)


def _check_embeddings(E_img, E_txt):
    """Both modalities' embeddings as 2-D row sets, each refused by name otherwise."""
    E_img, E_txt = _as_rows(E_img), _as_rows(E_txt)
    for E, name in ((E_img, "E_img"), (E_txt, "E_txt")):
        if getattr(E, "ndim", None) != 2:
            raise ValueError(f"{name} must be a 2-D array of embeddings, got shape {getattr(E, 'shape', None)}.")
    return E_img, E_txt


def _ranks_by_cosine(final):
    """Whether ``final`` ranks by the cosine of its embeddings, as it declares (``_ranks_by_cosine()``).

    An estimator that does not declare it (e.g. one with only a public
    ``similarity`` on raw rows) is taken to rank otherwise.
    """
    declared = getattr(final, "_ranks_by_cosine", None)
    return bool(declared()) if callable(declared) else False


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
    return _cross_modal_scores(
        estimator, X_img, X_txt, y, what="ap", k=k, n_jobs=n_jobs, device=device, average=average
    )


def cross_modal_recall(estimator, X_img, X_txt, y=None, k=1, *, n_jobs=None):
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
    _check_k(k, np.inf, allow_none=False)
    return _cross_modal_scores(estimator, X_img, X_txt, y, what="found", k=k, n_jobs=n_jobs)


def cross_modal_instance_scores(estimator, X_img, X_txt, groups, *, image_ids=None, ks=DEFAULT_KS, n_jobs=None,
                                return_per_query=False):
    """Instance-level retrieval of a fitted estimator: Recall@k, median and mean rank, mAP, both directions.

    For data where an image has several texts (COCO's five captions):
    relevant means "describes this image". Each image is embedded once and
    queries every text (``"i2t"``: it succeeds when any of its texts ranks
    high); each text queries every image (``"t2i"``). See
    :func:`~skcross.metrics.instance_retrieval_scores` for the definitions.
    Similarities are made one block of queries at a time, so memory stays
    bounded (5,000 images x 25,000 captions included).

    Parameters
    ----------
    estimator : fitted skcross estimator or Pipeline ending in one
        The model.
    X_img : {array-like, sparse matrix}
        Image features: either one row per pair (the image repeated for each
        of its texts, as :func:`~skcross.datasets.make_cross_modal` and the
        training data have it; the first row of each image is used), or,
        with ``image_ids``, one row per image.
    X_txt : {array-like, sparse matrix} of shape (n_texts, n_features_text)
        Text features.
    groups : array-like of shape (n_texts,)
        The image each text describes.
    image_ids : array-like of shape (n_images,), default=None
        The id of each row of ``X_img`` when it holds one row per image.
    ks : tuple of int, default=(1, 5, 10)
        Cut-offs of Recall@k.
    n_jobs : int, default=None
        Threads ranking blocks of queries in parallel.
    return_per_query : bool, default=False
        Also return ``{direction: {"rank": ..., "ap": ...}}``, each query's
        first relevant rank and average precision (for paired tests).

    Returns
    -------
    scores : dict
        ``{"i2t": {"R@1", "R@5", "R@10", "medr", "meanr", "map"}, "t2i":
        {...}, "rsum": float}`` (recalls as fractions).
    per_query : dict
        Only with ``return_per_query=True``.

    Examples
    --------
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.linear import CCA
    >>> from skcross.metrics import cross_modal_instance_scores
    >>> X_img, X_txt, y, groups = make_cross_modal(200, n_texts_per_image=5, return_groups=True, random_state=0)
    >>> est = CCA(8).fit(X_img[:500], X_txt[:500])
    >>> scores = cross_modal_instance_scores(est, X_img[500:], X_txt[500:], groups[500:])
    >>> sorted(scores["i2t"])
    ['R@1', 'R@10', 'R@5', 'map', 'meanr', 'medr']
    """
    X_img, X_txt = _as_rows(X_img), _as_rows(X_txt)
    names = ("image_ids", "groups", "row of X_img", "text (row of X_txt)")  # checked before anything is embedded
    groups = _check_ids(groups, X_txt.shape[0], names[1], names[3])
    if image_ids is not None:
        image_ids = _check_ids(image_ids, X_img.shape[0], names[0], names[2])
    elif X_img.shape[0] != X_txt.shape[0]:
        raise ValueError(
            f"X_img has {X_img.shape[0]} rows and X_txt {X_txt.shape[0]}: give X_img one row per pair (each "
            "image repeated for its texts), or one row per image with image_ids= naming them."
        )
    else:
        rows, image_ids = unique_images(groups)
        X_img = X_img[rows]
    ranker, E_img, E_txt = _ranking_space(estimator, X_img, X_txt)
    return _instance_from_embeddings(E_img, E_txt, groups, image_ids, None if ranker.cosine else ranker.similarity,
                                     ks, n_jobs, return_per_query, type(ranker.estimator).__name__, names)


def _instance_from_embeddings(E_img, E_txt, groups, image_ids, similarity, ks, n_jobs, per_query, name, names):
    i2t, t2i = _block_similarities(E_img, E_txt, similarity, name=name)
    return _instance_two_way(E_img.shape[0], E_txt.shape[0], image_ids, groups, i2t, t2i, ks, n_jobs, per_query,
                             names)


def instance_scores_both_ways(E_img, E_txt, groups, image_ids=None, *, similarity=None, ks=DEFAULT_KS, n_jobs=None):
    """Instance retrieval scores of embeddings, both directions: the pure metric behind
    :func:`cross_modal_instance_scores` (one row per image, similarities made block by block).

    Parameters
    ----------
    E_img : array-like of shape (n_images, n_components)
        Image embeddings, one row per image.
    E_txt : array-like of shape (n_texts, n_components)
        Text embeddings.
    groups : array-like of shape (n_texts,)
        The image each text describes, a value of ``image_ids``.
    image_ids : array-like of shape (n_images,), default=None
        Ids of the image rows; None is ``range(n_images)``.
    similarity : callable, default=None
        ``similarity(E_img_rows, E_txt_rows)``; None is the cosine.
    ks : tuple of int, default=(1, 5, 10)
        Cut-offs of Recall@k.
    n_jobs : int, default=None
        Threads ranking blocks of queries in parallel.

    Returns
    -------
    scores : dict
        As :func:`~skcross.metrics.instance_retrieval_scores`.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.metrics import instance_scores_both_ways
    >>> E_img = np.eye(2)
    >>> E_txt = np.array([[1.0, 0.1], [0.9, 0.0], [0.0, 1.0]])
    >>> instance_scores_both_ways(E_img, E_txt, groups=[0, 0, 1])["i2t"]["R@1"]
    1.0
    """
    E_img, E_txt = _check_embeddings(E_img, E_txt)
    return _instance_from_embeddings(E_img, E_txt, groups, image_ids, similarity, ks, n_jobs, False, "the embeddings",
                                     ("image_ids", "groups", "image row of E_img", "text (row of E_txt)"))


# ----------------------------------------------------------------------------
# scorers
# ----------------------------------------------------------------------------
# a scorer name: [neg_][balanced_][instance_]metric[@K][_i2t|_t2i]
_SCORER_NAME = re.compile(r"^(?P<neg>neg_)?(?P<balanced>balanced_)?(?P<instance>instance_)?"
                          r"(?P<metric>map|precision|recall|rsum|medr|meanr)(?:@(?P<k>[1-9][0-9]*))?"
                          r"(?:_(?P<direction>i2t|t2i))?$")


class _Grammar(NamedTuple):
    """What a metric's scorer name may carry."""

    k: str  # "required", "optional" or "none"
    balanced: bool = False  # "balanced_" (averaged over query classes)
    negated: bool = False  # "neg_" (required: a rank, where smaller is better)
    direction: bool = True  # "_i2t" / "_t2i"


# (instance, metric) -> its grammar; class-level metrics rank by labels, instance ones by X.groups
_GRAMMAR = {
    (False, "map"): _Grammar("optional", balanced=True),
    (False, "precision"): _Grammar("required", balanced=True),
    (False, "recall"): _Grammar("required"),
    (True, "map"): _Grammar("none"),
    (True, "recall"): _Grammar("required"),
    (True, "rsum"): _Grammar("none", direction=False),
    (True, "medr"): _Grammar("none", negated=True),
    (True, "meanr"): _Grammar("none", negated=True),
}
_STATISTIC = {"map": "ap", "precision": "hits", "recall": "found"}  # class-level metric -> per-query statistic


class _CrossModalScorer:
    """Picklable ``scorer(estimator, X, y)`` of one cross-modal metric, as :func:`get_scorer` parsed its name."""

    def __init__(self, metric, k, direction, average="queries", instance=False):
        self.metric = metric
        self.k = k
        self.direction = direction
        self.average = average
        self.instance = instance

    @property
    def name(self):
        name = (("neg_" if _GRAMMAR[self.instance, self.metric].negated else "")
                + ("balanced_" if self.average == "classes" else "") + ("instance_" if self.instance else "")
                + self.metric + (f"@{self.k}" if self.k is not None else ""))
        return name if self.direction == "mean" else f"{name}_{self.direction}"

    def __call__(self, estimator, X, y=None):
        if self.instance:
            return self._instance_score(estimator, X)
        if isinstance(X, PairedData):
            X_img, X_txt = X.image, X.text
        elif isinstance(X, tuple) and len(X) == 2:
            X_img, X_txt = X
        else:
            raise TypeError(
                f"The {self.name!r} scorer needs X as a PairedData (skcross.paired(X_img, X_txt)) "
                f"or, for sets of different sizes, a tuple (X_img, X_txt); got {type(X).__name__}."
            )
        scores = _cross_modal_scores(estimator, X_img, X_txt, y, what=_STATISTIC[self.metric], k=self.k,
                                     n_jobs=None, average=self.average)
        return scores[self.direction]

    def _instance_score(self, estimator, X):
        groups = getattr(X, "groups", None)
        if not isinstance(X, PairedData) or groups is None:
            raise TypeError(
                f"The {self.name!r} scorer needs to know which pairs show the same image: pass X as "
                "skcross.paired(X_img, X_txt, groups=groups) (groups: the image of each pair); "
                f"got {type(X).__name__} without groups."
            )
        ks = (self.k,) if self.metric == "recall" else DEFAULT_KS
        scores = cross_modal_instance_scores(estimator, X.image, X.text, groups, ks=ks)
        if self.metric == "rsum":
            return scores["rsum"]
        key = f"R@{self.k}" if self.metric == "recall" else self.metric
        directions = ("i2t", "t2i") if self.direction == "mean" else (self.direction,)
        value = float(np.mean([scores[d][key] for d in directions]))
        return -value if _GRAMMAR[True, self.metric].negated else value  # greater is better, as scikit-learn's neg_*

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


def _parse_scorer_name(scoring):
    """``(instance, metric, k, direction, average)`` of a scorer name; None if the grammar refuses it."""
    match = _SCORER_NAME.match(scoring) if isinstance(scoring, str) else None
    if match is None:
        return None
    instance, metric, k = bool(match["instance"]), match["metric"], match["k"]
    rules = _GRAMMAR.get((instance, metric))
    if (rules is None or bool(match["neg"]) != rules.negated or (match["balanced"] and not rules.balanced)
            or (match["direction"] and not rules.direction) or (k is None and rules.k == "required")
            or (k is not None and rules.k == "none")):
        return None
    return (instance, metric, None if k is None else int(k), match["direction"] or "mean",
            "classes" if match["balanced"] else "queries")


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
    examples = {"map": (None, 10, 50, 100), "precision": (10, 50), "recall": (1, 5, 10)}  # any K works
    return sorted(
        _CrossModalScorer(metric, k, direction, average, instance).name
        for (instance, metric), rules in _GRAMMAR.items()
        for k in ((None,) if rules.k == "none" else examples[metric])
        for average in (("queries", "classes") if rules.balanced else ("queries",))
        for direction in (("mean", "i2t", "t2i") if rules.direction else ("mean",))
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
    parsed = _parse_scorer_name(scoring)
    if parsed is None:
        raise ValueError(
            f"{scoring!r} is not a valid scoring value; use one of {get_scorer_names()} "
            "(any positive K in '@K'; 'precision' and 'recall' need '@K'; 'balanced_' goes with map and precision)."
        )
    instance, metric, k, direction, average = parsed
    return _CrossModalScorer(metric, k, direction, average, instance)


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
