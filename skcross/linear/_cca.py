"""Canonical correlation analysis (Hotelling, 1936), ridge-regularised."""

from numbers import Real

import numpy as np

from ..utils._sklearn_compat import Interval
from ._base import _CanonicalCorrelations, _LinearTwoView

__all__ = ["CCA"]


class CCA(_CanonicalCorrelations, _LinearTwoView):
    """Regularised canonical correlation analysis for cross-modal retrieval.

    Finds ``n_components`` pairs of directions ``(a_j, b_j)`` maximising the
    correlation of ``X_img a_j`` and ``X_txt b_j`` subject to
    ``a^T (C_img + r_img I) a = 1`` (and likewise for text), uncorrelated
    across components. The ridge ``r = reg * mean feature variance`` makes
    the problem well posed when features outnumber samples. Retrieval in the
    projected space with cosine similarity is the *correlation matching* (CM)
    of Rasiwasia et al. (2010).

    Parameters
    ----------
    n_components : int or None, default=10
        Dimension of the common space. None uses the largest valid
        value (the rank of the centred features, at most ``min(n_samples - 1, n_features)`` per modality); a larger integer is clipped to it with a warning.
    reg : float, default=1e-3
        Ridge added to each modality's covariance, as a fraction of that
        modality's mean feature variance (scale-free). 0 gives classical CCA.
        The small default keeps CCA close to the classical method the papers
        compare against; on small or noisy training sets it is weak: 3-fold
        cross-validation on the training splits of the shared datasets picks
        1 (Wikipedia) to 10 (CUB, MiniLM text), up to +0.15 mean mAP. Tune it
        (e.g. ``GridSearchCV`` over ``[1e-3, 0.1, 1, 10]``).
    scale : bool, default=True
        Standardise features to unit variance before fitting.

    Attributes
    ----------
    image_weights_ : ndarray of shape (n_features_image, n_components)
        Projection of the standardised image features.
    text_weights_ : ndarray of shape (n_features_text, n_components)
        Projection of the standardised text features.
    canonical_correlations_ : ndarray of shape (n_components,)
        Canonical correlations on the training data (shrunk by ``reg``).
        Formerly ``singular_values_``, still readable with a
        ``FutureWarning`` until skcross 0.3.
    n_components_ : int
        Number of components fitted (``n_components`` within the rank).
    n_features_image_in_ : int
        Number of image features seen in ``fit``.
    n_features_text_in_ : int
        Number of text features seen in ``fit``.

    See Also
    --------
    PLS : Maximises covariance instead of correlation.

    Notes
    -----
    The solution is computed from the thin SVDs of the centred modalities, so
    its cost is ``O(n d min(n, d))`` per modality and it is exact for any
    ``reg >= 0`` whether ``n > d`` or not. Sparse inputs are densified.

    References
    ----------
    H. Hotelling. Relations between two sets of variates. Biometrika, 1936.
    N. Rasiwasia et al. A new approach to cross-modal multimedia retrieval.
    ACM Multimedia, 2010.

    Examples
    --------
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.linear import CCA
    >>> X_img, X_txt, y = make_cross_modal(300, random_state=0)
    >>> cca = CCA(n_components=4).fit(X_img, X_txt)
    >>> cca.transform_image(X_img).shape
    (300, 4)
    >>> bool(cca.canonical_correlations_[0] > 0.5)
    True
    """

    _parameter_constraints = {
        **_LinearTwoView._parameter_constraints,
        "reg": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, n_components=10, *, reg=1e-3, scale=True):
        self.n_components = n_components
        self.reg = reg
        self.scale = scale

    def _factors(self, s, n_samples, n_features):
        variance = s**2 / (n_samples - 1)
        ridge = self.reg * variance.sum() / n_features
        inverse_root = 1.0 / np.sqrt(variance + ridge)
        return s * inverse_root, inverse_root
