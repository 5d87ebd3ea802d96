"""Instance-level retrieval: relevant means "describes this image", and an image may have several texts.

COCO and Flickr30k give each image five captions and report, in both
directions, Recall@1/5/10 (a relevant item in the top k), the median and
mean rank of the first relevant item, and their sum (rsum). An image query
succeeds when *any* of its captions is ranked high (counting only one of the
five as relevant is a known pitfall); a caption query when its image is.
Similarities are made and ranked one block of queries at a time, so memory
stays bounded by the block, not by ``n_images x n_texts``.
"""

import numpy as np

from ._checks import _as_rows, _check_embeddings, _check_ids, _check_ks, _check_similarity, _check_similarity_function
from ._ranking import Statistic, rank_both_ways, rank_queries

__all__ = ["cross_modal_instance_scores", "first_relevant_rank", "instance_retrieval_scores",
           "instance_scores_both_ways", "unique_images"]

DEFAULT_KS = (1, 5, 10)


def first_relevant_rank(S, y_query=None, y_db=None, *, n_jobs=None):
    """Rank (from 1) of each query's first relevant item: what median and mean rank summarise.

    Parameters
    ----------
    S : array-like of shape (n_queries, n_database)
        Similarities; larger means more similar. Equal similarities keep
        database order (the ranking of every skcross metric).
    y_query, y_db : array-like or None, default=None
        Labels defining relevance, as in
        :func:`~skcross.metrics.mean_average_precision` (for instance
        retrieval, the image id of each query and item); both None: item
        ``i`` is query ``i``'s only relevant item.
    n_jobs : int, default=None
        Threads working on blocks of queries in parallel.

    Returns
    -------
    ranks : ndarray of shape (n_queries,)
        Float ranks, ``inf`` for a query with no relevant item.

    Examples
    --------
    >>> from skcross.metrics import first_relevant_rank
    >>> first_relevant_rank([[0.1, 0.9, 0.5], [0.3, 0.3, 0.3]], [8, 8], [8, 7, 8]).tolist()
    [2.0, 1.0]
    """
    return rank_queries(S, y_query, y_db, [Statistic("first_rank")], n_jobs=n_jobs).values[0]


def unique_images(groups):
    """Rows keeping one image per group, and the group ids in that order: pairs to an image set.

    Parameters
    ----------
    groups : array-like of shape (n_pairs,)
        The image of each (image, text) pair.

    Returns
    -------
    rows : ndarray of int
        The first pair of each image, in order of appearance.
    image_ids : ndarray
        ``groups[rows]``.

    Examples
    --------
    >>> from skcross.metrics import unique_images
    >>> rows, ids = unique_images([4, 4, 9, 4, 2])
    >>> rows.tolist(), ids.tolist()
    ([0, 2, 4], [4, 9, 2])
    """
    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.size == 0:
        raise ValueError(f"groups must be a non-empty 1-D array (one image id per pair), got shape {groups.shape}.")
    if groups.dtype.kind == "f":
        raise ValueError(f"groups must hold integer or string image ids, got dtype {groups.dtype}.")
    _, first = np.unique(groups, return_index=True)
    rows = np.sort(first)
    return rows, groups[rows]


def _instance_scores(ranking, X_img, X_txt, image_ids, groups, ks, n_jobs, names):
    """``(scores, per-query values)`` of instance retrieval: relevance is ``(image_ids, groups)``, each checked and
    named as ``names`` say (``image_ids`` None: ``range(n_images)``), then both directions ranked once."""
    ks = _check_ks(ks)
    n_images, n_texts = X_img.shape[0], (X_img.shape[1] if X_txt is None else X_txt.shape[0])
    image_ids = np.arange(n_images) if image_ids is None else _check_ids(image_ids, n_images, names[0], names[2])
    groups = _check_ids(groups, n_texts, names[1], names[3])
    if len(np.unique(image_ids)) != len(image_ids):
        raise ValueError("image_ids must be unique: one row per image (see unique_images for pairs).")
    missing = ~np.isin(groups, image_ids)
    if missing.any():
        raise ValueError(
            f"{names[1]} names images that are not among the image rows, e.g. {groups[missing][0]!r}: "
            "every text must describe one of the images."
        )
    without_text = ~np.isin(image_ids, groups)
    if without_text.any():
        raise ValueError(
            f"{int(without_text.sum())} image(s) have no text, e.g. {image_ids[without_text][0]!r}: "
            "an image query without a relevant text has no rank. Drop those images."
        )
    values = rank_both_ways(ranking, X_img, X_txt, (image_ids, groups),
                            statistics=[Statistic("first_rank"), Statistic("ap")], n_jobs=n_jobs)
    scores, queries = {}, {}
    for direction, both in values.items():
        ranks, ap = both.values
        scores[direction] = {**{f"R@{k}": float(np.mean(ranks <= k)) for k in ks},
                             "medr": float(np.floor(np.median(ranks))), "meanr": float(np.mean(ranks)),
                             "map": both.reduce(1)}
        queries[direction] = {"rank": ranks, "ap": ap}
    scores["rsum"] = sum(scores[d][f"R@{k}"] for d in ("i2t", "t2i") for k in ks)
    return scores, queries


def instance_retrieval_scores(S, text_groups, image_ids=None, *, ks=DEFAULT_KS, n_jobs=None):
    """Recall@k, median and mean rank, and mAP of instance retrieval, both directions, from one matrix.

    Relevant means "describes this image": image query ``i`` finds every
    text ``j`` with ``text_groups[j] == image_ids[i]`` relevant (all its
    captions, not one), text query ``j`` finds its image.

    Parameters
    ----------
    S : array-like of shape (n_images, n_texts)
        Similarities of each image (one row per image, not per pair) to each
        text.
    text_groups : array-like of shape (n_texts,)
        The image each text describes: a value of ``image_ids``.
    image_ids : array-like of shape (n_images,), default=None
        The images' ids, unique; None is ``range(n_images)``, so
        ``text_groups`` holds row numbers of ``S``.
    ks : tuple of int, default=(1, 5, 10)
        Cut-offs of Recall@k.
    n_jobs : int, default=None
        Threads ranking blocks of queries in parallel.

    Returns
    -------
    scores : dict
        ``{"i2t": {"R@1", "R@5", "R@10", "medr", "meanr", "map"}, "t2i":
        {...}, "rsum": float}``. R@k is the share of queries with a
        relevant item in their top k (a fraction: times 100 for the
        percentages papers print; ``rsum`` likewise sums fractions, at most
        ``2 * len(ks)``); ``medr`` is the median of the first relevant
        rank, rounded down, and ``meanr`` its mean (ranks from 1, as in
        VSE++ and FiCo-ITR); ``map`` is the mAP@all with every text of the
        image relevant.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.metrics import instance_retrieval_scores
    >>> S = np.array([[0.9, 0.2, 0.8, 0.1],    # image 0: captions 0 and 2
    ...               [0.3, 0.7, 0.4, 0.6]])   # image 1: captions 1 and 3
    >>> scores = instance_retrieval_scores(S, text_groups=[0, 1, 0, 1])
    >>> scores["i2t"]["R@1"], scores["t2i"]["R@1"], scores["t2i"]["medr"]
    (1.0, 1.0, 1.0)
    """
    S = _check_similarity(S)
    return _instance_scores("precomputed", S, None, image_ids, text_groups, ks, n_jobs,
                            ("image_ids", "text_groups", "image (row of S)", "text (column of S)"))[0]


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
    names = ("image_ids", "groups", "row of X_img", "text (row of X_txt)")
    if image_ids is None:  # one row per pair: the first row of each image is kept (groups checked to pick it)
        if X_img.shape[0] != X_txt.shape[0]:
            raise ValueError(
                f"X_img has {X_img.shape[0]} rows and X_txt {X_txt.shape[0]}: give X_img one row per pair (each "
                "image repeated for its texts), or one row per image with image_ids= naming them."
            )
        rows, image_ids = unique_images(_check_ids(groups, X_txt.shape[0], names[1], names[3]))
        X_img = X_img[rows]
    scores, per_query = _instance_scores(estimator, X_img, X_txt, image_ids, groups, ks, n_jobs, names)
    return (scores, per_query) if return_per_query else scores


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
    return _instance_scores(_check_similarity_function(similarity), E_img, E_txt, image_ids, groups, ks, n_jobs,
                            ("image_ids", "groups", "image row of E_img", "text (row of E_txt)"))[0]
