"""Reference rankings every result is read against: a random ranking and the query-independent class prior."""

import numpy as np

from ..utils.validation import check_labels

__all__ = ["class_prior_similarity", "random_precision"]


def _labels(y, name):
    shape = np.shape(y)
    return check_labels(y, shape[0] if shape else 0, name)


def random_precision(y_query, y_db):
    """Expected precision of a random ranking, at every rank: the mean share of the database relevant to a query.

    The random level of precision-recall and precision-scope curves (a
    random ranking's precision@k has this expectation for every k).

    Parameters
    ----------
    y_query : array-like of shape (n_queries,) or (n_queries, n_labels)
        Labels of the queries.
    y_db : array-like of shape (n_database,) or (n_database, n_labels)
        Labels of the database items (relevant = same class, or sharing a
        label for multi-label indicators).

    Returns
    -------
    precision : float

    Examples
    --------
    >>> from skcross.metrics import random_precision
    >>> random_precision([0, 0, 0, 1], [0, 0, 0, 1])  # 3 queries find 3/4 relevant, one finds 1/4
    0.625
    """
    y_query = _labels(y_query, "y_query")
    y_db = _labels(y_db, "y_db")
    if y_query.ndim != y_db.ndim:
        raise ValueError(
            f"y_query and y_db must both be 1-D class labels or both 2-D indicator matrices, got "
            f"{y_query.ndim}-D and {y_db.ndim}-D."
        )
    if y_query.ndim == 1:
        classes, counts = np.unique(y_db, return_counts=True)
        share = dict(zip(classes.tolist(), (counts / len(y_db)).tolist()))
        return float(np.mean([share.get(label, 0.0) for label in y_query.tolist()]))
    Q, D = y_query.astype(np.float32), y_db.astype(np.float32)
    shares = [(Q[start:start + 1024] @ D.T > 0).mean(axis=1) for start in range(0, len(Q), 1024)]
    return float(np.concatenate(shares).mean())


def class_prior_similarity(y_train, y_db, n_queries):
    """Similarities of the query-independent ranking: every query ranks the database by training prevalence.

    An item's score is the share of training items relevant to it (its
    class's training frequency for single-label data; the share of training
    items sharing one of its labels for multi-label data), the same for
    every query. A method that does not beat this ranking in a direction has
    not used the query there.

    Parameters
    ----------
    y_train : array-like of shape (n_train,) or (n_train, n_labels)
        Training labels.
    y_db : array-like of shape (n_database,) or (n_database, n_labels)
        Database labels.
    n_queries : int
        Number of query rows of the returned matrix.

    Returns
    -------
    S : ndarray of shape (n_queries, n_database)
        The same row of scores for every query (a broadcast view).

    Examples
    --------
    >>> from skcross.metrics import class_prior_similarity, mean_average_precision
    >>> S = class_prior_similarity([0, 0, 0, 1], [1, 0, 1, 0], n_queries=2)
    >>> S[0].tolist()
    [0.25, 0.75, 0.25, 0.75]
    """
    y_train = _labels(y_train, "y_train")
    y_db = _labels(y_db, "y_db")
    if y_train.ndim == 1:
        classes, counts = np.unique(y_train, return_counts=True)
        frequency = dict(zip(classes.tolist(), (counts / len(y_train)).tolist()))
        scores = np.array([frequency.get(label, 0.0) for label in y_db.tolist()])
    else:
        scores = (y_db.astype(np.float64) @ y_train.astype(np.float64).T > 0).mean(axis=1)
    return np.broadcast_to(scores, (int(n_queries), len(scores)))
