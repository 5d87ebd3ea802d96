"""Paired image-text data: one object whose rows are coupled pairs."""

import numbers

import numpy as np
import scipy.sparse as sp

__all__ = ["PairedData", "paired"]


def _is_raw_text(X):
    """Whether ``X`` is a 1-D sequence of strings (raw sentences or documents)."""
    if isinstance(X, str) or sp.issparse(X) or hasattr(X, "columns"):
        return False
    X = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=object) if isinstance(X, (list, tuple)) else X
    return (
        isinstance(X, np.ndarray)
        and X.ndim == 1
        and X.size > 0
        and (X.dtype.kind == "U" or (X.dtype.kind == "O" and all(isinstance(v, str) for v in X)))
    )


def _is_raw_pixels(X):
    """Whether ``X`` is an (n, H, W, 3) uint8 array: raw RGB images."""
    return isinstance(X, np.ndarray) and X.ndim == 4 and X.shape[-1] == 3 and X.dtype == np.uint8


def _as_modality_matrix(X, name):
    """Return ``X`` as a 2-D ndarray, CSR matrix or DataFrame, or a 1-D array of strings, without changing its values."""
    if sp.issparse(X):
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got a sparse array with {X.ndim} dimension(s).")
        return X.tocsr()
    if isinstance(X, PairedData):
        raise TypeError(f"{name} must be one modality's matrix, got a PairedData.")
    if hasattr(X, "iloc") and getattr(X, "ndim", None) == 2:
        return X  # a DataFrame keeps its column names for the estimator
    if _is_raw_text(X):
        return np.asarray(X, dtype=object)
    X = np.asarray(X)
    if _is_raw_pixels(X) and name == "image":
        return X  # for an image encoder (skcross.feature_extraction.ImageEncoder) in a pipeline
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_features) or a 1-D sequence of "
            f"strings (raw text or image paths)"
            + (", or raw images as a uint8 array (n, H, W, 3)" if name == "image" else "")
            + f", got an array with shape {X.shape}."
        )
    return X


def _take_rows(M, rows):
    """Rows ``rows`` (a slice or an integer array) of a modality, whatever its container."""
    return M.iloc[rows] if hasattr(M, "iloc") else M[rows]


def _width(M):
    """Number of features of a modality; raw text and raw images count as one."""
    return M.shape[1] if M.ndim == 2 else 1


def _row_key(key, n_rows):
    """Normalise a row key into something both ndarrays and CSR matrices accept."""
    if isinstance(key, tuple):
        if len(key) == 2 and (key[1] is Ellipsis or (isinstance(key[1], slice) and key[1] == slice(None))):
            key = key[0]
        elif len(key) == 1:
            key = key[0]
        else:
            raise IndexError(
                "PairedData supports row indexing only (X[rows] or X[rows, ...]); "
                "select features with ModalityTransformer or on .image / .text."
            )
    if isinstance(key, slice):
        return key
    if isinstance(key, numbers.Integral) and not isinstance(key, (bool, np.bool_)):
        if not -n_rows <= key < n_rows:
            raise IndexError(f"row {key} is out of range for {n_rows} pairs.")
        return np.array([key % n_rows])
    key = np.asarray(key)
    if key.dtype == bool:
        if key.shape != (n_rows,):
            raise IndexError(
                f"boolean row mask has shape {key.shape}, expected ({n_rows},)."
            )
        return np.flatnonzero(key)
    if key.ndim != 1 or not np.issubdtype(key.dtype, np.integer):
        raise IndexError(
            "PairedData rows are selected with an int, a slice, a 1-D integer array "
            f"or a boolean mask; got an array of dtype {key.dtype} and shape {key.shape}."
        )
    return key


class PairedData:
    """Image and text matrices whose row ``i`` is one coupled pair.

    ``PairedData`` lets scikit-learn's model-selection tools (splitters,
    :class:`~sklearn.model_selection.GridSearchCV`, ``cross_val_score``,
    joblib workers) handle two-modality data as one ``X``: indexing it selects
    the same rows of both modalities, so pairs are never split or mixed.

    Parameters
    ----------
    image : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features_image)
        Image features, or raw images for a pipeline whose first step encodes
        them (``ModalityTransformer(image=ImageEncoder(...))``): image file
        paths, or a uint8 array of shape (n_samples, H, W, 3).
    text : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features_text) or sequence of str
        Text features; row ``i`` is the partner of ``image[i]``. Either
        modality may also be a 1-D sequence of strings (raw text or image
        paths), for a pipeline whose first step encodes it, e.g.
        ``ModalityTransformer(text=TextEncoder(...))`` or
        ``ModalityTransformer(text=SIFEmbedding(vectors))``.
    groups : array-like of shape (n_samples,), default=None
        The image each pair shows, when an image has several texts (COCO's
        five captions): pairs with equal ``groups`` share their image. Rows
        selected from a ``PairedData`` keep their groups, so the
        instance-level scorers (``get_scorer("instance_recall@5")``) see them
        in every fold; split with a group-aware splitter
        (``GroupKFold``, ``groups=X.groups``) to keep an image's texts in one
        fold.

    Attributes
    ----------
    image : ndarray, scipy.sparse.csr_matrix or DataFrame
        Image features (sparse input is stored as CSR; a DataFrame is kept
        with its column names; raw text as a 1-D object array; raw images
        as the uint8 array given).
    text : ndarray, scipy.sparse.csr_matrix or DataFrame
        Text features, stored as ``image``.
    groups : ndarray of shape (n_samples,) or None
        The image of each pair, or None.

    See Also
    --------
    paired : Function building a ``PairedData``.
    skcross.preprocessing.ModalityTransformer : Apply a transformer to one modality.

    Notes
    -----
    ``shape`` is ``(n_samples, n_features_image + n_features_text)`` (raw
    text counts as one feature) so that scikit-learn counts samples correctly; the two matrices are never
    concatenated. Converting a ``PairedData`` to a single NumPy array raises
    a ``TypeError``: a scikit-learn transformer must be applied to one
    modality at a time.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross import paired
    >>> X = paired(np.zeros((4, 3)), np.ones((4, 2)))
    >>> X.shape
    (4, 5)
    >>> X[[0, 2]].image.shape, X[1:].text.shape
    ((2, 3), (3, 2))
    """

    def __init__(self, image, text, groups=None):
        image = _as_modality_matrix(image, "image")
        text = _as_modality_matrix(text, "text")
        if image.shape[0] != text.shape[0]:
            raise ValueError(
                "image and text must have the same number of rows (one row per pair), "
                f"got {image.shape[0]} image rows and {text.shape[0]} text rows."
            )
        self.image = image
        self.text = text
        self.groups = None if groups is None else _check_groups(groups, image.shape[0])

    @property
    def shape(self):
        return (self.image.shape[0], _width(self.image) + _width(self.text))

    @property
    def ndim(self):
        return 2

    def __len__(self):
        return self.image.shape[0]

    def __getitem__(self, key):
        rows = _row_key(key, len(self))
        groups = None if self.groups is None else self.groups[rows]
        return PairedData(_take_rows(self.image, rows), _take_rows(self.text, rows), groups)

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "A PairedData holds two modalities and cannot be turned into one array. "
            "Use skcross.preprocessing.ModalityTransformer to apply a scikit-learn "
            "transformer to one modality, or work on X.image / X.text."
        )

    def __repr__(self):
        def describe(M):
            if M.ndim == 1:
                return "raw text"
            if M.ndim == 4:
                return f"raw images {M.shape[1]}x{M.shape[2]}"
            kind = "sparse" if sp.issparse(M) else "DataFrame" if hasattr(M, "iloc") else "dense"
            return f"{kind} {M.shape[1]} features"

        groups = "" if self.groups is None else f", {len(np.unique(self.groups))} groups"
        return (
            f"PairedData(n_pairs={len(self)}, image: {describe(self.image)}, "
            f"text: {describe(self.text)}{groups})"
        )


def _check_groups(groups, n_rows):
    """``groups`` as a 1-D array of one hashable, non-float value per row."""
    groups = np.asarray(groups)
    if groups.ndim != 1 or len(groups) != n_rows:
        raise ValueError(
            f"groups must hold one value per pair ({n_rows}), the image the pair shows; got shape {groups.shape}."
        )
    if groups.dtype.kind == "f":
        raise ValueError(
            f"groups must be integer or string image ids, got dtype {groups.dtype}: float ids are not exact keys "
            "(pass groups.astype(int))."
        )
    return groups


def paired(X_img, X_txt, groups=None):
    """Bind an image matrix and a text matrix into one :class:`PairedData`.

    Parameters
    ----------
    X_img : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features_image)
        Image features.
    X_txt : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features_text) or sequence of str
        Text features, or raw sentences; row ``i`` is the partner of ``X_img[i]``.
    groups : array-like of shape (n_samples,), default=None
        The image of each pair when an image has several texts (see
        :class:`PairedData`).

    Returns
    -------
    X : PairedData
        The pairs, usable as ``X`` anywhere scikit-learn expects one.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import KFold
    >>> from skcross import paired
    >>> X = paired(np.arange(12.).reshape(6, 2), np.arange(6.).reshape(6, 1))
    >>> train, test = next(KFold(3).split(X))
    >>> X[test].text.ravel()
    array([0., 1.])
    """
    return PairedData(X_img, X_txt, groups)
