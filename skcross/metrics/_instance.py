"""Instance-level retrieval: relevant means "describes this image", and an image may have several texts.

COCO and Flickr30k give each image five captions and report, in both
directions, Recall@1/5/10 (a relevant item in the top k), the median and
mean rank of the first relevant item, and their sum (rsum). An image query
succeeds when *any* of its captions is ranked high (counting only one of the
five as relevant is a known pitfall); a caption query when its image is.
Similarities are made and ranked one block of queries at a time, so memory
stays bounded by the block, not by ``n_images x n_texts``.
"""

import numbers

import numpy as np

from ._ranking import Statistic, _check_similarity, _statistic_of, per_direction_statistics

__all__ = ["first_relevant_rank", "instance_retrieval_scores", "unique_images"]

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
    return _statistic_of(S, y_query, y_db, "first_rank", None, n_jobs)[0]


def _check_ks(ks):
    ks = (ks,) if isinstance(ks, numbers.Integral) else tuple(ks)
    if not ks or any(not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1 for k in ks):
        raise ValueError(f"ks must be positive integers, e.g. (1, 5, 10); got {ks!r}.")
    return tuple(int(k) for k in ks)


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


def _summary(ranks, ks):
    scores = {f"R@{k}": float(np.mean(ranks <= k)) for k in ks}
    scores["medr"] = float(np.floor(np.median(ranks)))
    scores["meanr"] = float(np.mean(ranks))
    return scores


def _check_ids(ids, n, name, each):
    """``ids`` as an array of ``n`` ids, one per ``each`` (said in the message)."""
    ids = np.asarray(ids)
    if ids.shape != (n,):
        raise ValueError(f"{name} must hold one id per {each} ({n}), got shape {ids.shape}.")
    return ids


def _instance_two_way(n_images, n_texts, image_ids, text_groups, i2t_block, t2i_block, ks, n_jobs, per_query,
                      names=("image_ids", "text_groups", "image (row of S)", "text (column of S)")):
    """Both directions' instance scores from block similarity functions ``rows -> S_block``; ``names`` name the
    ids' arguments and what they describe in the messages (``image_ids`` None: ``range(n_images)``)."""
    ks = _check_ks(ks)
    image_ids = np.arange(n_images) if image_ids is None else _check_ids(image_ids, n_images, names[0], names[2])
    text_groups = _check_ids(text_groups, n_texts, names[1], names[3])
    if len(np.unique(image_ids)) != len(image_ids):
        raise ValueError("image_ids must be unique: one row per image (see unique_images for pairs).")
    missing = ~np.isin(text_groups, image_ids)
    if missing.any():
        raise ValueError(
            f"text_groups names images that are not among the image rows, e.g. {text_groups[missing][0]!r}: "
            "every text must describe one of the images."
        )
    without_text = ~np.isin(image_ids, text_groups)
    if without_text.any():
        raise ValueError(
            f"{int(without_text.sum())} image(s) have no text, e.g. {image_ids[without_text][0]!r}: "
            "an image query without a relevant text has no rank. Drop those images."
        )
    values = per_direction_statistics((n_images, image_ids, i2t_block), (n_texts, text_groups, t2i_block),
                                      lambda n_db: [Statistic("first_rank"), Statistic("ap")], n_jobs)
    scores = {d: {**_summary(ranks, ks), "map": float(ap.mean())} for d, (ranks, ap) in values.items()}
    queries = {d: {"rank": ranks, "ap": ap} for d, (ranks, ap) in values.items()}
    scores["rsum"] = sum(scores[d][f"R@{k}"] for d in ("i2t", "t2i") for k in ks)
    return (scores, queries) if per_query else scores


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
    return _instance_two_way(*S.shape, image_ids, text_groups, lambda rows: S[rows], lambda rows: S[:, rows].T, ks,
                             n_jobs, per_query=False)
