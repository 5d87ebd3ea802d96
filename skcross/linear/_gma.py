"""Generalized multiview analysis (Sharma et al., 2012): GMLDA and GMMFA."""

from numbers import Integral, Real

import numpy as np
import scipy.linalg
from sklearn.metrics.pairwise import euclidean_distances

from ..utils._sklearn_compat import Interval, StrOptions
from ..utils.validation import label_indicator
from ._base import N_COMPONENTS_CONSTRAINT, _component_signs, _dense, _Projection, _resolve_n_components

__all__ = ["GMLDA", "GMMFA"]


def _class_weights(y):
    """Each item's weight in each class, shape (n, n_classes): one-hot for class labels.

    A multi-label item splits its unit weight equally among its labels, the
    weighting of multi-label LDA (Wang, Ding and Huang, 2010) without its
    label-correlation refinement; an item without labels weighs nothing.
    """
    if y.ndim == 1:
        classes, Y = label_indicator(y)
        return Y, classes
    Y = y.astype(float)
    counts = Y.sum(axis=1, keepdims=True)
    return np.divide(Y, counts, out=np.zeros_like(Y), where=counts > 0), np.arange(y.shape[1])


def _class_means(X, weights):
    """Weighted mean of each class's items, shape (n_classes, n_features)."""
    return (weights.T @ X) / weights.sum(axis=0)[:, None]


def _laplacian_scatter(X, W):
    """``X^T (D - W) X`` for a symmetric affinity ``W``: sum_ij W_ij (x_i - x_j)(x_i - x_j)^T / 2."""
    return X.T @ ((W.sum(axis=1)[:, None] * X) - W @ X)


class _GMA(_Projection):
    """Generalized multiview analysis of two views (Sharma et al., CVPR 2012).

    Solves the generalized eigenproblem of the paper's equation 7::

        [ A1        a Z1 Z2^T ] v = lambda [ B1   0       ] v
        [ a Z2 Z1^T  mu A2    ]            [ 0    g B2    ]

    where ``(A_i, B_i)`` are the view's discriminant matrices (the subclass
    chooses them), ``Z1 Z2^T`` couples the views through aligned samples, and
    ``mu = tr(A1)/tr(A2)``, ``g = tr(B1)/tr(B2)`` balance the two views as the
    authors' code does when it sets the parameters automatically. skcross
    makes the coupling scale-free: ``a = alpha * tr(A1) / ||Z1|| ||Z2||``
    (Frobenius norms), so ``alpha`` weighs cross-view alignment against
    discrimination whatever the feature scales. ``B_i`` gets a ridge of
    ``reg`` times its mean diagonal, which keeps the problem well posed on
    high-dimensional features.
    """

    _requires_labels = True

    _parameter_constraints = {
        "n_components": N_COMPONENTS_CONSTRAINT,
        "alpha": [Interval(Real, 0, None, closed="left")],
        "reg": [Interval(Real, 0, None, closed="neither")],
        "alignment": [StrOptions({"class_means", "pairs"})],
        "scale": ["boolean"],
    }

    def _view_matrices(self, X, weights):
        """Return ``(A, B)``: the scatter to maximise and the one to bound (``weights``: see ``_class_weights``)."""
        raise NotImplementedError

    def _fit(self, X_img, X_txt, y):
        weights, classes = _class_weights(y)
        present = weights.sum(axis=0) > 0
        if present.sum() < 2:
            raise ValueError(f"y must contain at least 2 classes, got {classes[present].tolist()}.")
        weights = weights[:, present]  # a label no training item carries has no mean
        X1, X2 = self._standardise_training(_dense(X_img), _dense(X_txt), self.scale)
        d1 = X1.shape[1]
        k = _resolve_n_components(self.n_components, d1 + X2.shape[1], "the total number of features")
        A1, B1 = self._view_matrices(X1, weights)
        A2, B2 = self._view_matrices(X2, weights)
        if self.alignment == "class_means":
            Z1, Z2 = _class_means(X1, weights), _class_means(X2, weights)
        else:
            Z1, Z2 = X1, X2
        norms = np.linalg.norm(Z1) * np.linalg.norm(Z2)
        coupling = self.alpha * np.trace(A1) / norms * (Z1.T @ Z2) if norms > 0 else np.zeros((d1, X2.shape[1]))
        mu = np.trace(A1) / np.trace(A2) if np.trace(A2) > 0 else 1.0
        g = np.trace(B1) / np.trace(B2) if np.trace(B2) > 0 else 1.0
        ridge = [self.reg * max(np.trace(B) / len(B), np.finfo(float).tiny) for B in (B1, B2)]
        big_A = np.block([[A1, coupling], [coupling.T, mu * A2]])
        big_B = scipy.linalg.block_diag(B1 + ridge[0] * np.eye(d1), g * (B2 + ridge[1] * np.eye(len(B2))))
        n = len(big_A)
        _, V = scipy.linalg.eigh(
            (big_A + big_A.T) / 2, (big_B + big_B.T) / 2, subset_by_index=(n - k, n - 1)
        )
        V = V[:, ::-1]
        signs = _component_signs(V[:d1])
        self.image_weights_ = V[:d1] * signs
        self.text_weights_ = V[d1:] * signs
        self.n_components_ = k


class GMLDA(_GMA):
    """Generalized multiview LDA: class-discriminant common space for two views.

    Generalized multiview analysis (Sharma et al., 2012) with linear
    discriminant analysis in each view: maximise the between-class scatter
    ``S_b`` of both views plus the alignment of the views' aligned samples,
    relative to their within-class scatter ``S_w`` (see the Notes for the
    eigenproblem). Images and texts are compared with cosine similarity in
    the common space. Multi-label ``y`` (a 0/1 indicator matrix) uses the
    multi-label scatter of Wang et al. (2010): an item with ``m`` labels adds
    weight ``1/m`` to each of its classes' means and scatters.

    Parameters
    ----------
    n_components : int or None, default=10
        Dimension of the common space. None uses the largest valid
        value (the total number of features of both views); a larger integer is clipped to it with a warning.
    alpha : float, default=10.0
        Weight of the cross-view alignment (the authors' default is 10); made
        scale-free as described in the Notes.
    reg : float, default=1e-3
        Ridge on each within-class scatter, as a fraction of its mean diagonal.
    alignment : {"class_means", "pairs"}, default="class_means"
        Samples aligned across views: the class means (the authors' default,
        which also works without pairs) or the training pairs themselves.
    scale : bool, default=False
        Standardise features to unit variance (the authors' code only
        centres them).

    Attributes
    ----------
    image_weights_ : ndarray of shape (n_features_image, n_components)
        Projection of the centred image features.
    text_weights_ : ndarray of shape (n_features_text, n_components)
        Projection of the centred text features.
    n_components_ : int
        Number of components fitted (``n_components`` within the number of features).
    n_features_image_in_ : int
        Number of image features seen in ``fit``.
    n_features_text_in_ : int
        Number of text features seen in ``fit``.

    See Also
    --------
    GMMFA : The same framework with marginal Fisher analysis.

    Notes
    -----
    With ``(A_i, B_i) = (S_b, S_w)`` of view ``i`` and ``Z_i`` its aligned
    samples, the projections are the top generalized eigenvectors of
    ``[[A1, a Z1^T Z2], [a Z2^T Z1, mu A2]] v = lambda blockdiag(B1, g B2) v``
    with ``mu = tr(A1)/tr(A2)``, ``g = tr(B1)/tr(B2)`` and
    ``a = alpha tr(A1) / (||Z1|| ||Z2||)``; ``B_i`` carries a ridge of
    ``reg`` times its mean diagonal.

    References
    ----------
    A. Sharma, A. Kumar, H. Daumé III, D. W. Jacobs. Generalized multiview
    analysis: a discriminative latent space. CVPR, 2012.

    H. Wang, C. Ding, H. Huang. Multi-label linear discriminant analysis.
    ECCV, 2010.

    Examples
    --------
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.linear import GMLDA
    >>> X_img, X_txt, y = make_cross_modal(300, n_classes=4, random_state=0)
    >>> gmlda = GMLDA(n_components=3).fit(X_img, X_txt, y)
    >>> gmlda.transform_image(X_img).shape
    (300, 3)
    """

    def __init__(self, n_components=10, *, alpha=10.0, reg=1e-3, alignment="class_means", scale=False):
        self.n_components = n_components
        self.alpha = alpha
        self.reg = reg
        self.alignment = alignment
        self.scale = scale

    def _view_matrices(self, X, weights):
        means = _class_means(X, weights)
        counts = weights.sum(axis=0)
        overall = counts @ means / counts.sum()  # 0 for single-label data (X is centred)
        centred = means - overall
        between = (centred * counts[:, None]).T @ centred
        # sum over classes k and items i of w_ik (x_i - m_k)(x_i - m_k)^T
        within = X.T @ (weights.sum(axis=1)[:, None] * X) - (means * counts[:, None]).T @ means
        return between, within


class GMMFA(_GMA):
    """Generalized multiview marginal Fisher analysis for two views.

    Generalized multiview analysis (Sharma et al., 2012) with marginal Fisher
    analysis (Yan et al., 2007) in each view: keep each sample close to its
    ``n_neighbors`` nearest same-class neighbours (intrinsic graph) and push
    apart, for each class, its ``n_margin_pairs`` closest pairs with other
    classes (penalty graph), while aligning the views (see :class:`GMLDA`
    for the shared eigenproblem, with ``A`` the penalty scatter and ``B`` the
    intrinsic scatter). With multi-label ``y`` (a 0/1 indicator matrix),
    "same class" means sharing a label: neighbours share at least one label,
    and each label's penalty pairs join its items to items sharing none of
    their labels.

    Parameters
    ----------
    n_components : int or None, default=10
        Dimension of the common space. None uses the largest valid
        value (the total number of features of both views); a larger integer is clipped to it with a warning.
    n_neighbors : int, default=50
        Same-class neighbours per sample in the intrinsic graph (the
        authors' code uses 50).
    n_margin_pairs : int, default=400
        Closest between-class pairs per class in the penalty graph (the
        authors' code uses 400).
    alpha : float, default=10.0
        Weight of the cross-view alignment; see :class:`GMLDA`.
    reg : float, default=1e-3
        Ridge on each intrinsic scatter, as a fraction of its mean diagonal.
    alignment : {"class_means", "pairs"}, default="class_means"
        Samples aligned across views; see :class:`GMLDA`.
    scale : bool, default=False
        Standardise features to unit variance (the authors' code only
        centres them).

    Attributes
    ----------
    image_weights_ : ndarray of shape (n_features_image, n_components)
        Projection of the centred image features.
    text_weights_ : ndarray of shape (n_features_text, n_components)
        Projection of the centred text features.
    n_components_ : int
        Number of components fitted (``n_components`` within the number of features).
    n_features_image_in_ : int
        Number of image features seen in ``fit``.
    n_features_text_in_ : int
        Number of text features seen in ``fit``.

    See Also
    --------
    GMLDA : The same framework with linear discriminant analysis.

    Notes
    -----
    The graphs use Euclidean distances in each view and binary weights; the
    ``n x n`` distance matrix makes fitting ``O(n^2)`` in memory.

    References
    ----------
    A. Sharma, A. Kumar, H. Daumé III, D. W. Jacobs. Generalized multiview
    analysis: a discriminative latent space. CVPR, 2012.
    S. Yan, D. Xu, B. Zhang, H. Zhang, Q. Yang, S. Lin. Graph embedding and
    extensions: a general framework for dimensionality reduction. IEEE
    TPAMI 29(1), 2007.

    Examples
    --------
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.linear import GMMFA
    >>> X_img, X_txt, y = make_cross_modal(300, n_classes=4, random_state=0)
    >>> gmmfa = GMMFA(n_components=3, n_neighbors=5, n_margin_pairs=20).fit(X_img, X_txt, y)
    >>> gmmfa.transform_text(X_txt).shape
    (300, 3)
    """

    _parameter_constraints = {
        **_GMA._parameter_constraints,
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "n_margin_pairs": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        n_components=10,
        *,
        n_neighbors=50,
        n_margin_pairs=400,
        alpha=10.0,
        reg=1e-3,
        alignment="class_means",
        scale=False,
    ):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.n_margin_pairs = n_margin_pairs
        self.alpha = alpha
        self.reg = reg
        self.alignment = alignment
        self.scale = scale

    def _view_matrices(self, X, weights):
        n = X.shape[0]
        distances = euclidean_distances(X, squared=True)
        members = weights > 0
        same = (members.astype(float) @ members.T.astype(float)) > 0  # share a class (a label)
        intrinsic = np.zeros((n, n))
        within = np.where(same, distances, np.inf)
        np.fill_diagonal(within, np.inf)
        k = min(self.n_neighbors, n - 1)
        neighbours = np.argpartition(within, k - 1, axis=1)[:, :k]
        rows = np.repeat(np.arange(n), k)
        valid = np.isfinite(within[rows, neighbours.ravel()])
        intrinsic[rows[valid], neighbours.ravel()[valid]] = 1.0
        intrinsic = np.maximum(intrinsic, intrinsic.T)
        penalty = np.zeros((n, n))
        for column in members.T:
            inside, outside = np.flatnonzero(column), np.flatnonzero(~column)
            # pairs of a class member with an item sharing no class with it (for class labels: any other class)
            block = np.where(same[np.ix_(inside, outside)], np.inf, distances[np.ix_(inside, outside)]).ravel()
            m = min(self.n_margin_pairs, int(np.isfinite(block).sum()))
            if m == 0:
                continue
            closest = np.argpartition(block, m - 1)[:m]
            i, j = inside[closest // len(outside)], outside[closest % len(outside)]
            penalty[i, j] = penalty[j, i] = 1.0
        return _laplacian_scatter(X, penalty), _laplacian_scatter(X, intrinsic)
