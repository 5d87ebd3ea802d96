"""Multi-label CCA (Ranjan, Rasiwasia and Jawahar, 2015)."""

from numbers import Real

from sklearn.preprocessing import normalize

from ..utils.validation import label_indicator
from ..utils._sklearn_compat import Interval
from ._base import N_COMPONENTS_CONSTRAINT, _CanonicalCorrelations, _cca_from_covariances, _dense, _Projection

__all__ = ["MLCCA"]


class MLCCA(_CanonicalCorrelations, _Projection):
    """Multi-label CCA: correspondences weighted by label similarity.

    Classical CCA only correlates each image with its own text. ml-CCA
    correlates every image ``x_i`` with every text ``t_j``, weighted by the
    similarity ``s_ij`` of their label vectors, so pairs sharing semantics
    pull together even when they were not captured together:
    ``C_xt = sum_ij s_ij x_i t_j^T``, ``C_xx = sum_ij s_ij x_i x_i^T``,
    ``C_tt = sum_ij s_ij t_j t_j^T`` (normalised by ``sum_ij s_ij``), and the
    canonical directions of these covariances are found with a ridge. Here
    ``s_ij`` is the cosine similarity of the label vectors (1 for the same
    class with single-label ``y``), computed through the labels in
    ``O(n d c)`` without forming the ``n x n`` matrix.

    Parameters
    ----------
    n_components : int or None, default=None
        Dimension of the common space. It is at most the rank of the
        label-weighted cross-covariance: the number of labels, or the number
        of classes minus 1 with single-label ``y`` (correspondences are then
        class-level). None uses that largest valid value; a larger integer is
        clipped to it with a warning.
    reg : float, default=0.25
        Ridge on each covariance as a fraction of its mean diagonal (0.25 is
        the default of the authors' code).
    scale : bool, default=True
        Standardise features to unit variance before fitting.

    Attributes
    ----------
    image_weights_ : ndarray of shape (n_features_image, n_components)
        Projection of the standardised image features.
    text_weights_ : ndarray of shape (n_features_text, n_components)
        Projection of the standardised text features.
    canonical_correlations_ : ndarray of shape (n_components,)
        Label-weighted canonical correlations on the training data.
        Formerly ``singular_values_`` (deprecated alias until skcross 0.3).
    n_components_ : int
        Number of components fitted.
    n_features_image_in_ : int
        Number of image features seen in ``fit``.
    n_features_text_in_ : int
        Number of text features seen in ``fit``.

    See Also
    --------
    CCA : Correlates pairs only.

    References
    ----------
    V. Ranjan, N. Rasiwasia, C. V. Jawahar. Multi-label cross-modal
    retrieval. ICCV, 2015.

    Examples
    --------
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.linear import MLCCA
    >>> X_img, X_txt, Y = make_cross_modal(300, n_classes=5, multilabel=True, random_state=0)
    >>> mlcca = MLCCA(n_components=4).fit(X_img, X_txt, Y)
    >>> mlcca.transform_image(X_img).shape
    (300, 4)
    """

    _requires_labels = True

    _parameter_constraints = {
        "n_components": N_COMPONENTS_CONSTRAINT,
        "reg": [Interval(Real, 0, None, closed="left")],
        "scale": ["boolean"],
    }

    def __init__(self, n_components=None, *, reg=0.25, scale=True):
        self.n_components = n_components
        self.reg = reg
        self.scale = scale

    def _fit(self, X_img, X_txt, y):
        X, T = self._standardise_training(_dense(X_img), _dense(X_txt), self.scale)
        labels = normalize(label_indicator(y)[1])  # s_ij = labels[i] . labels[j]
        label_sum = labels.sum(axis=0)
        weight = labels @ label_sum  # w_i = sum_j s_ij
        total = weight.sum()
        if total <= 0:
            raise ValueError("y has no positive label: every label similarity is zero.")
        C_xt = (X.T @ labels) @ (labels.T @ T) / total
        C_xx = X.T @ (weight[:, None] * X) / total
        C_tt = T.T @ (weight[:, None] * T) / total
        A, B, rho = _cca_from_covariances(C_xx, C_tt, C_xt, self.reg, self.n_components)
        self.image_weights_, self.text_weights_, self.canonical_correlations_ = A, B, rho
        self.n_components_ = len(rho)
