"""Input validation shared by estimators and metrics.

Every check of what a user passes (the calling forms of ``fit``, each
modality's features, raw images, labels) lives here, below both
:mod:`skcross.base` and :mod:`skcross.metrics`, so that ``fit``,
``partial_fit``, ``score`` and the metrics run the same checks and say the
same things.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_array

from .._paired import PairedData, _is_raw_pixels, _is_raw_text

__all__ = [
    "check_fit_labels",
    "check_image_tensor",
    "check_labels",
    "check_modality",
    "encode_labels",
    "label_indicator",
    "unpack_paired",
]


def _is_passthrough(step):
    """Whether a pipeline step (or a ModalityTransformer slot) is None or "passthrough": no transform."""
    return step is None or (isinstance(step, str) and step == "passthrough")


def check_labels(y, n_samples, name="y"):
    """Validate retrieval labels.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_labels), or None
        Class labels (any hashable values), or a 0/1 multi-label indicator
        matrix, or None.
    n_samples : int
        Expected number of rows.
    name : str, default="y"
        Name used in error messages.

    Returns
    -------
    y : ndarray or None
        The 1-D labels, the 2-D indicator matrix as ``uint8``, or None.

    Examples
    --------
    >>> from skcross.utils.validation import check_labels
    >>> check_labels([[0, 1], [1, 1]], 2).dtype
    dtype('uint8')
    """
    if y is None:
        return None
    y = np.asarray(y)
    if y.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D class labels or a 2-D 0/1 indicator matrix, "
            f"got an array with shape {y.shape}."
        )
    if y.shape[0] != n_samples:
        raise ValueError(f"{name} has {y.shape[0]} rows but {n_samples} were expected.")
    if n_samples == 0:
        raise ValueError(f"{name} is empty.")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    if y.dtype.kind == "c":
        raise ValueError(f"{name} holds complex numbers; give class labels (ints or strings) or a 0/1 matrix.")
    if y.dtype.kind == "O" and any(v is None for v in y.ravel()):
        raise ValueError(f"{name} contains None.")
    if y.ndim == 2:
        if y.dtype.kind not in "biuf" or not np.isin(y, (0, 1)).all():
            raise ValueError(
                f"{name} is 2-D, so it must be a 0/1 multi-label indicator matrix; "
                "it has other values."
            )
        y = y.astype(np.uint8)
    return y


def unpack_paired(X_img, X_txt=None, y=None, *, method="fit"):
    """Return ``(X_img, X_txt, y)`` from either calling form.

    ``method(X_img, X_txt, y)`` and ``method(paired_data, y)``: when the first
    argument is a :class:`~skcross.PairedData`, the second positional argument
    is ``y`` (this is how scikit-learn's ``Pipeline`` and model-selection tools
    call ``fit(X, y)`` and ``score(X, y)``).

    Parameters
    ----------
    X_img : array-like, sparse matrix or PairedData
        Image features, or the pairs.
    X_txt : array-like, sparse matrix, or labels, default=None
        Text features; ``y`` when ``X_img`` is a ``PairedData``.
    y : array-like, default=None
        Labels.
    method : str, default="fit"
        Name used in error messages.

    Returns
    -------
    X_img, X_txt, y
        The image matrix, the text matrix and the labels.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross import paired
    >>> from skcross.utils.validation import unpack_paired
    >>> X_img, X_txt, y = unpack_paired(paired(np.ones((2, 3)), np.ones((2, 1))), [0, 1])
    >>> X_img.shape, X_txt.shape, y
    ((2, 3), (2, 1), [0, 1])
    """
    if isinstance(X_img, PairedData):
        if X_txt is not None and y is not None:
            raise TypeError(
                f"{method}() got a PairedData and both a second positional argument and y=; "
                "with a PairedData the second positional argument is y."
            )
        return X_img.image, X_img.text, (X_txt if X_txt is not None else y)
    if X_txt is None:
        raise TypeError(
            f"{method}() needs X_txt when X_img is not a PairedData: call "
            f"{method}(X_img, X_txt, y) or {method}(skcross.paired(X_img, X_txt), y)."
        )
    if isinstance(X_txt, PairedData):
        raise TypeError(f"{method}() got a PairedData as X_txt; pass it as the first argument.")
    return X_img, X_txt, y


def _refuse_labels_as_texts(X_txt, y, method):
    """``method(X, y)`` in scikit-learn's habit puts ``y`` in ``X_txt``: say so (after ``X_img`` is validated)."""
    if y is None and _looks_like_labels(X_txt):
        raise ValueError(
            f"{method}() got a 1-D second argument of shape {np.shape(X_txt)} and no y: this looks like "
            f"scikit-learn's {method}(X, y), so y landed in X_txt. skcross estimators take the two modalities "
            f"apart: {method}(X_img, X_txt, y), or {method}(skcross.paired(X_img, X_txt), y) (what Pipelines and "
            "searches pass). For one matrix of stacked columns, split it: "
            "paired(X[:, :n_image_features], X[:, n_image_features:])."
        )


def _looks_like_labels(X):
    """Whether ``X`` is a 1-D array of numbers or labels (not raw text, not a matrix)."""
    if sp.issparse(X) or isinstance(X, str) or _is_raw_text(X) or hasattr(X, "columns"):
        return False
    try:
        return np.ndim(X) == 1
    except ValueError:  # ragged nested sequences
        return False


def check_modality(X, name, *, n_features=None, accept_sparse=True):
    """Validate one modality's feature matrix.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The features.
    name : str
        The argument's name, used in every error message (e.g. ``"X_img"``).
    n_features : int, default=None
        Required width (the width seen in ``fit``), or None.
    accept_sparse : bool, default=True
        Whether a scipy sparse matrix is accepted (it is returned as CSR).

    Returns
    -------
    X : ndarray or csr_matrix of float32 or float64
        The validated matrix.

    Examples
    --------
    >>> from skcross.utils.validation import check_modality
    >>> check_modality([[1, 2], [3, 4]], "X_img").dtype
    dtype('float64')
    """
    if isinstance(X, PairedData):
        raise TypeError(f"{name} must be one modality's features, got a PairedData.")
    if _is_raw_text(X):
        raise TypeError(
            f"{name} holds raw text (strings: sentences or image paths); encode it first, e.g. with "
            "make_pipeline(ModalityTransformer(image=ImageEncoder(...), text=TextEncoder(...)), estimator) "
            "(skcross.feature_extraction) or ModalityTransformer(text=SIFEmbedding(word_vectors))."
        )
    try:
        shape = getattr(X, "shape", None) or np.shape(X)
    except ValueError as exc:  # a ragged list: rows of different lengths
        raise ValueError(f"{name} must be a 2-D array of shape (n_samples, n_features); its rows differ in "
                         f"length ({exc})") from None
    if _is_raw_pixels(X):
        raise TypeError(
            f"{name} holds raw images (a uint8 array of shape {shape}); encode them first, e.g. with "
            "make_pipeline(ModalityTransformer(image=ImageEncoder(...)), estimator) (skcross.feature_extraction)."
        )
    if len(shape) != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_features), got shape {shape}."
        )
    if shape[0] == 0 or shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {shape}).")
    try:
        X = check_array(
            X,
            accept_sparse="csr" if accept_sparse else False,
            dtype=(np.float64, np.float32),
            input_name=name,
        )
    except (ValueError, TypeError) as exc:
        if name in str(exc):
            raise
        raise type(exc)(f"{name}: {exc}") from exc
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"{name} has {X.shape[1]} features, but the estimator was fitted with "
            f"{n_features} features for this modality."
        )
    return X


def _n_rows(X):
    return X.shape[0] if hasattr(X, "shape") else len(X)


def _feature_names(X):
    """Column names of a DataFrame whose columns are all strings, else None (scikit-learn's rule)."""
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    names = np.asarray(columns, dtype=object)
    return names if len(names) and all(isinstance(name, str) for name in names) else None


def _set_feature_names(estimator, image_names, text_names):
    """Record ``feature_names_image_in_`` / ``feature_names_text_in_``, or forget them when a modality has none."""
    for modality, names in (("image", image_names), ("text", text_names)):
        if names is None:
            vars(estimator).pop(f"feature_names_{modality}_in_", None)
        else:
            setattr(estimator, f"feature_names_{modality}_in_", names)


def check_image_tensor(X, name="X_img", *, item_shape=None):
    """Validate raw image input, e.g. ``(n, C, H, W)``, for an estimator with an image encoder.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Images (or anything the encoder takes), with at least 2 dimensions.
    name : str, default="X_img"
        The argument's name, used in every error message.
    item_shape : tuple of int, default=None
        Required shape of one item (the shape seen in ``fit``), or None.

    Returns
    -------
    X : ndarray of float32 or float64
        The validated array (integer images, e.g. ``uint8``, become float32).

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.utils.validation import check_image_tensor
    >>> check_image_tensor(np.zeros((2, 3, 8, 8), np.uint8)).dtype
    dtype('float32')
    """
    if isinstance(X, PairedData) or sp.issparse(X):
        raise TypeError(f"{name} must be an array of images of shape (n_samples, ...), got {type(X).__name__}.")
    X = np.asarray(X)
    if X.ndim < 2:
        raise ValueError(f"{name} must have shape (n_samples, ...) with at least 2 dimensions, got shape {X.shape}.")
    if X.size == 0:
        raise ValueError(f"{name} is empty (shape {X.shape}).")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold numbers, got dtype {X.dtype}.")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float32)
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    if item_shape is not None and X.shape[1:] != tuple(item_shape):
        raise ValueError(
            f"{name} has items of shape {X.shape[1:]}, but the estimator was fitted on items of shape "
            f"{tuple(item_shape)}."
        )
    return X


# The estimators that take a 2-D multi-label indicator ``y`` (named in the refusal of the others;
# a test keeps this list equal to the estimators' own ``_allows_multilabel``).
MULTILABEL_ESTIMATORS = (
    "CCA", "DCCA", "DSCMR", "GMLDA", "GMMFA", "KCCA", "MLCCA", "PLS", "SCM", "SM", "SSMAL", "SSPE",
)


def check_fit_labels(y, n_img, n_txt, *, requires_labels, allows_unpaired, allows_multilabel=True,
                     estimator="this method"):
    """Validate ``y`` for ``fit``: None, labels of the pairs, or ``(y_img, y_txt)``.

    Parameters
    ----------
    y : None, array-like or tuple of two array-likes
        The labels given to ``fit``.
    n_img, n_txt : int
        Numbers of image and text rows.
    requires_labels : bool
        Whether None is refused.
    allows_unpaired : bool
        Whether ``(y_img, y_txt)`` for modalities of different sizes is accepted.
    allows_multilabel : bool, default=True
        Whether 2-D indicator matrices are accepted.
    estimator : str, default="this method"
        The estimator's name, for the error messages.

    Returns
    -------
    y : None, ndarray or tuple of two ndarrays
        The validated labels.
    """
    if y is None:
        if requires_labels:
            raise ValueError(f"y is required: {estimator} is supervised (fit(X_img, X_txt, y)).")
        return None
    if isinstance(y, tuple) and len(y) == 2:
        if not allows_unpaired:
            raise ValueError(
                f"y=(y_img, y_txt) describes unpaired data, which {estimator} does not support."
            )
        labels = check_labels(y[0], n_img, "y_img"), check_labels(y[1], n_txt, "y_txt")
    else:
        if n_img != n_txt:
            raise ValueError(
                f"X_img has {n_img} rows and X_txt has {n_txt}: unpaired data needs y=(y_img, y_txt)."
            )
        labels = (check_labels(y, n_img, "y"),)
    if not allows_multilabel and any(labels_.ndim == 2 for labels_ in labels):
        raise ValueError(
            f"{estimator} takes single-label data (y of 1-D class labels), got a 2-D indicator matrix. "
            f"Estimators that take multi-label y: {', '.join(MULTILABEL_ESTIMATORS)} "
            "(of these, DSCMR, GMLDA, GMMFA, MLCCA, SCM, SM and SSPE learn from the labels)."
        )
    return labels if len(labels) == 2 else labels[0]


def label_indicator(y):
    """The 0/1 indicator matrix of validated labels, and the classes it encodes.

    Parameters
    ----------
    y : ndarray of shape (n_samples,) or (n_samples, n_labels)
        Class labels or an indicator matrix (see ``check_labels``).

    Returns
    -------
    classes : ndarray of shape (n_classes,) or None
        Column ``j`` stands for ``classes[j]``; None when ``y`` was already
        an indicator matrix.
    Y : ndarray of shape (n_samples, n_columns), float64
        The indicator matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.utils.validation import label_indicator
    >>> classes, Y = label_indicator(np.array(["b", "a", "b"]))
    >>> classes.tolist(), Y.tolist()
    (['a', 'b'], [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    """
    if y.ndim == 2:
        return None, y.astype(np.float64)
    classes, (codes,) = encode_labels(y)
    return classes, np.eye(len(classes))[codes]


def encode_labels(*label_arrays):
    """Class labels to integer codes with one code book for all the arrays: the one place labels become codes.

    Parameters
    ----------
    *label_arrays : ndarray of shape (n_i,)
        1-D class labels (validated, e.g. by :func:`check_labels`).

    Returns
    -------
    classes : ndarray of shape (n_classes,)
        The sorted distinct labels of all the arrays; code ``j`` stands for
        ``classes[j]``.
    codes : list of ndarray of int64
        Each array's codes, in the order given.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.utils.validation import encode_labels
    >>> classes, (a, b) = encode_labels(np.array(["x", "y"]), np.array(["y", "z"]))
    >>> classes.tolist(), a.tolist(), b.tolist()
    (['x', 'y', 'z'], [0, 1], [1, 2])
    """
    try:
        classes, codes = np.unique(np.concatenate(label_arrays), return_inverse=True)
    except TypeError as exc:
        raise ValueError("The labels cannot be compared with each other (they mix kinds of values).") from exc
    return classes, np.split(codes.reshape(-1).astype(np.int64), np.cumsum([len(a) for a in label_arrays])[:-1])
