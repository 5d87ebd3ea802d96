"""The metrics' shared input checks: the one internal module whose private names the other metrics modules use.

Each check names the argument the user passed and says what to give instead.
"""

import numbers

import numpy as np
from sklearn.utils.validation import check_array

__all__ = ["split_labels"]

_AVERAGES = ("queries", "classes")


def _as_rows(X):
    """Something whose rows can be sliced with ``X[rows]`` (arrays, sparse matrices and lists)."""
    return X if hasattr(X, "shape") else np.asarray(X)


def _check_similarity(S, name="S"):
    S = np.asarray(S) if not hasattr(S, "shape") else S
    if getattr(S, "ndim", None) != 2:
        raise ValueError(
            f"{name} must be a 2-D similarity matrix of shape (n_queries, n_database), "
            f"got shape {getattr(S, 'shape', None)}."
        )
    if S.shape[0] == 0 or S.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {S.shape}); need at least one query and one item.")
    return check_array(S, dtype=(np.float64, np.float32), input_name=name, accept_sparse=False)


def _check_embeddings(E_img, E_txt):
    """Both modalities' embeddings as 2-D row sets, each refused by name otherwise."""
    E_img, E_txt = _as_rows(E_img), _as_rows(E_txt)
    for E, name in ((E_img, "E_img"), (E_txt, "E_txt")):
        if getattr(E, "ndim", None) != 2:
            raise ValueError(f"{name} must be a 2-D array of embeddings, got shape {getattr(E, 'shape', None)}.")
    return E_img, E_txt


def _check_k(k, n_db, name="k", allow_none=True, clip=True):
    """Validate a cut-off rank; a ``k`` beyond the database means the whole database.

    Clipping follows torchmetrics' retrieval metrics and scikit-learn's
    ``ndcg_score``: mAP@1000 on a 693-item test set is mAP@693 (= mAP@all).
    With ``clip=False`` (precision-scope curves, whose scopes are the x-axis)
    a value beyond the database is an error.
    """
    if k is None and allow_none:
        return None
    if not isinstance(k, numbers.Integral) or isinstance(k, (bool, np.bool_)) or k < 1:
        raise ValueError(f"{name} must be a positive integer{' or None' if allow_none else ''}, got {k!r}.")
    if k > n_db:
        if not clip:
            raise ValueError(f"{name}={k} exceeds the number of database items ({n_db}).")
        return int(n_db)
    return int(k)


def _check_scopes(scopes, n_db):
    """The cut-offs of a precision-scope curve; None: 20 ranks spread evenly from 1 to ``n_db``."""
    if scopes is None:
        return np.unique(np.linspace(1, n_db, num=min(20, n_db)).round().astype(int))
    scopes = np.asarray(scopes)
    if scopes.ndim != 1 or scopes.size == 0:
        raise ValueError("scopes must be a non-empty 1-D array of positive integers.")
    for k in scopes:
        _check_k(k.item() if hasattr(k, "item") else k, n_db, name="scopes value", allow_none=False, clip=False)
    if np.any(np.diff(scopes) <= 0):
        raise ValueError("scopes must be strictly increasing.")
    return scopes


def _check_recall_levels(recall_levels):
    """The levels of a precision-recall curve; None: the 11 levels 0, 0.1, ..., 1."""
    levels = np.linspace(0, 1, 11) if recall_levels is None else np.asarray(recall_levels, float)
    if levels.ndim != 1 or levels.size == 0 or not np.all((levels >= 0) & (levels <= 1)):
        raise ValueError("recall_levels must be a non-empty 1-D array of values in [0, 1].")
    return levels


def _check_average(average, y_query):
    """Refuse an ``average`` other than "queries" or "classes", and "classes" without labels; before any ranking."""
    if average not in _AVERAGES:
        raise ValueError(
            f"average must be 'queries' (every query weighs the same, the field's habit) or 'classes' "
            f"(every query class weighs the same), got {average!r}."
        )
    if average == "classes" and y_query is None:
        raise ValueError(
            "average='classes' needs labels: without y_query and y_db every query is its own pair, "
            "so there are no classes to average over."
        )


def _check_ks(ks):
    ks = (ks,) if isinstance(ks, numbers.Integral) else tuple(ks)
    if not ks or any(not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1 for k in ks):
        raise ValueError(f"ks must be positive integers, e.g. (1, 5, 10); got {ks!r}.")
    return tuple(int(k) for k in ks)


def _check_ids(ids, n, name, each):
    """``ids`` as an array of ``n`` ids, one per ``each`` (said in the message)."""
    ids = np.asarray(ids)
    if ids.shape != (n,):
        raise ValueError(f"{name} must hold one id per {each} ({n}), got shape {ids.shape}.")
    return ids


def _n_labels(y):
    return y.shape[0] if hasattr(y, "shape") else len(y)


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
    if isinstance(y, tuple) and len(y) == 2:
        for labels, n, modality in ((y[0], n_images, "img"), (y[1], n_texts, "txt")):
            if labels is not None and _n_labels(labels) != n:
                raise ValueError(
                    f"y_{modality} has {_n_labels(labels)} labels but X_{modality} has {n} rows: "
                    "give one label per row."
                )
        return y
    if n_images != n_texts:
        raise ValueError(
            f"X_img has {n_images} rows and X_txt {n_texts}: evaluating unpaired sets needs y=(y_img, y_txt)."
        )
    if y is not None and _n_labels(y) != n_images:
        raise ValueError(
            f"y has {_n_labels(y)} labels but X_img and X_txt have {n_images} rows: give one label per pair "
            "(the labels of the rows you evaluate, e.g. y_test for X_img_test, X_txt_test)."
        )
    return y, y


def _check_similarity_function(similarity):
    """A similarity given for embeddings: a callable ``similarity(E_img_rows, E_txt_rows)`` or None (the cosine)."""
    if similarity is not None and not callable(similarity):
        raise TypeError(f"similarity must be a callable or None (cosine), got {type(similarity).__name__}.")
    return "cosine" if similarity is None else similarity
