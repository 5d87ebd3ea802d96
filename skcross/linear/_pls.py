"""Partial least squares in its SVD form (cross-covariance maximisation)."""

import numpy as np

from ._base import _LinearTwoView

__all__ = ["PLS"]


class PLS(_LinearTwoView):
    """Partial least squares (PLS-SVD) for cross-modal retrieval.

    Finds ``n_components`` pairs of unit-norm directions ``(a_j, b_j)``
    maximising the covariance of ``X_img a_j`` and ``X_txt b_j``: the leading
    singular vectors of the cross-covariance matrix ``X_img^T X_txt / (n - 1)``
    of the centred (and optionally standardised) features. No matrix is
    inverted, so no regularisation is needed; it is the ``reg -> infinity``
    limit of :class:`CCA` up to scaling.

    Parameters
    ----------
    n_components : int or None, default=10
        Dimension of the common space. None uses the largest valid
        value (the rank of the centred features, at most ``min(n_samples - 1, n_features)`` per modality); a larger integer is clipped to it with a warning.
    scale : bool, default=True
        Standardise features to unit variance before fitting.

    Attributes
    ----------
    image_weights_ : ndarray of shape (n_features_image, n_components)
        Orthonormal projection of the standardised image features.
    text_weights_ : ndarray of shape (n_features_text, n_components)
        Orthonormal projection of the standardised text features.
    singular_values_ : ndarray of shape (n_components,)
        Covariances of the projected training pairs.
    n_components_ : int
        Number of components fitted (``n_components`` within the rank).
    n_features_image_in_ : int
        Number of image features seen in ``fit``.
    n_features_text_in_ : int
        Number of text features seen in ``fit``.

    See Also
    --------
    CCA : Maximises correlation instead of covariance.

    References
    ----------
    A. Sharma and D. W. Jacobs. Bypassing synthesis: PLS for face recognition
    with pose, low-resolution and sketch. CVPR, 2011.
    J. A. Wegelin. A survey of partial least squares (PLS) methods, with
    emphasis on the two-block case. Technical report, 2000.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.linear import PLS
    >>> X_img, X_txt, y = make_cross_modal(300, random_state=0)
    >>> pls = PLS(n_components=4).fit(X_img, X_txt)
    >>> np.allclose(pls.image_weights_.T @ pls.image_weights_, np.eye(4))
    True
    """

    def __init__(self, n_components=10, *, scale=True):
        self.n_components = n_components
        self.scale = scale

    def _factors(self, s, n_samples, n_features):
        return s, np.ones_like(s)
