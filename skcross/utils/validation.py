"""Input validation shared by estimators and metrics.

Kept apart from :mod:`skcross.base` and :mod:`skcross.metrics` so that both
import it without importing each other.
"""

import numpy as np

__all__ = ["check_labels"]


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
