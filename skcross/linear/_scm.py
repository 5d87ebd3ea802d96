"""Semantic matching (SM) and semantic correlation matching (SCM), Rasiwasia et al. 2010."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..base import CrossModalMixin, cosine_similarity
from ..utils._sklearn_compat import Interval, StrOptions
from ._base import N_COMPONENTS_CONSTRAINT, _dense
from ._cca import CCA
from ._pls import PLS

__all__ = ["SCM", "SM"]

_METRICS = {"normalized_correlation", "centered_correlation"}


class _SemanticMatching(CrossModalMixin, BaseEstimator):
    """Both modalities are mapped to class posteriors by per-modality classifiers.

    Subclasses choose the features the classifiers see (``_fit_subspace``,
    ``_subspace_image``, ``_subspace_text``).
    """

    _requires_labels = True
    _preserves_float32 = True

    _parameter_constraints = {
        "C": [Interval(Real, 0, None, closed="neither")],
        "metric": [StrOptions(_METRICS)],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
    }

    def _fit_subspace(self, X_img, X_txt):
        """Fit the map into the space the classifiers work in (none by default)."""

    def _subspace_image(self, X_img):
        return _dense(X_img, dtype=None)

    def _subspace_text(self, X_txt):
        return _dense(X_txt, dtype=None)

    def _classifier(self):
        return make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=self.max_iter))

    def _fit(self, X_img, X_txt, y):
        y_img, y_txt = y if isinstance(y, tuple) else (y, y)
        if y_img.ndim == 2 or y_txt.ndim == 2:
            return self._fit_multilabel(X_img, X_txt, y_img, y_txt)
        classes_img, classes_txt = np.unique(y_img), np.unique(y_txt)
        if not np.array_equal(classes_img, classes_txt):
            raise ValueError(
                "y_img and y_txt must contain the same classes, so that both modalities share "
                f"one posterior space; got {classes_img.tolist()} and {classes_txt.tolist()}."
            )
        if len(classes_img) < 2:
            raise ValueError(f"y must contain at least 2 classes, got {classes_img.tolist()}.")
        self._fit_subspace(X_img, X_txt)
        self.image_classifier_ = self._classifier().fit(self._subspace_image(X_img), y_img)
        self.text_classifier_ = self._classifier().fit(self._subspace_text(X_txt), y_txt)
        self.classes_ = classes_img

    def _fit_multilabel(self, X_img, X_txt, Y_img, Y_txt):
        """One binary logistic regression per label and modality: the embedding holds per-label posteriors."""
        if Y_img.ndim != Y_txt.ndim or Y_img.shape[1] != Y_txt.shape[1]:
            raise ValueError(
                "y_img and y_txt must both be indicator matrices over the same labels, so that both modalities "
                f"share one posterior space; got shapes {Y_img.shape} and {Y_txt.shape}."
            )
        if not (Y_img.any() or Y_txt.any()):
            raise ValueError(f"y holds no label at all (every row is 0); {type(self).__name__} learns posteriors "
                             "of labels.")
        self._fit_subspace(X_img, X_txt)
        self.image_classifier_ = _PerLabelPosteriors(self._classifier).fit(self._subspace_image(X_img), Y_img)
        self.text_classifier_ = _PerLabelPosteriors(self._classifier).fit(self._subspace_text(X_txt), Y_txt)
        self.classes_ = np.arange(Y_img.shape[1])

    def _transform_image(self, X_img):
        # cast: scikit-learn < 1.8's LogisticRegression returns float64 probabilities for float32 input
        return self.image_classifier_.predict_proba(self._subspace_image(X_img)).astype(X_img.dtype, copy=False)

    def _transform_text(self, X_txt):
        return self.text_classifier_.predict_proba(self._subspace_text(X_txt)).astype(X_txt.dtype, copy=False)

    def _ranks_by_cosine(self):
        return self.metric == "normalized_correlation"

    def _similarity(self, Z_img, Z_txt):
        return cosine_similarity(Z_img, Z_txt, center_rows=self.metric == "centered_correlation")


class _PerLabelPosteriors:
    """Posterior of each label from its own binary classifier (one-vs-rest), for multi-label SM/SCM.

    A label that is constant in training (never or always present) gets that
    constant as its posterior instead of a classifier.
    """

    def __init__(self, make_classifier):
        self.make_classifier = make_classifier

    def fit(self, X, Y):
        self.models_ = [
            float(column[0]) if column.min() == column.max() else self.make_classifier().fit(X, column)
            for column in np.asarray(Y).T
        ]
        return self

    def predict_proba(self, X):
        n = X.shape[0]
        return np.column_stack([
            np.full(n, model) if isinstance(model, float) else model.predict_proba(X)[:, 1] for model in self.models_
        ])


class SM(_SemanticMatching):
    """Semantic matching: retrieval in the space of class posteriors.

    Each modality gets its own multinomial logistic regression (on
    standardised raw features); images and texts are represented by their
    vectors of class posterior probabilities and compared there (Rasiwasia
    et al., 2010). The two classifiers never need the same rows, so SM also
    fits unpaired data: ``fit(X_img, X_txt, (y_img, y_txt))``. Multi-label
    ``y`` (a 0/1 indicator matrix) gets one binary logistic regression per
    label and modality (one-vs-rest), and the embedding holds the per-label
    posteriors (a label constant in training keeps that constant).

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength of the logistic regressions.
    metric : {"normalized_correlation", "centered_correlation"}, \
default="normalized_correlation"
        Comparison of posterior vectors: cosine ("normalized correlation",
        NC in the paper) or the correlation of mean-centred vectors.
    max_iter : int, default=1000
        Iterations of the logistic-regression solver.

    Attributes
    ----------
    image_classifier_, text_classifier_ : Pipeline
        The fitted per-modality classifiers (StandardScaler + LogisticRegression).
    classes_ : ndarray of shape (n_classes,)
        The classes; embedding column ``j`` is the posterior of ``classes_[j]``
        (for multi-label ``y``, the label column indices).
    n_features_image_in_ : int
        Number of image features seen in ``fit``.
    n_features_text_in_ : int
        Number of text features seen in ``fit``.

    See Also
    --------
    SCM : The same on top of a correlation subspace.

    References
    ----------
    N. Rasiwasia, J. Costa Pereira, E. Coviello, G. Doyle, G. Lanckriet,
    R. Levy, N. Vasconcelos. A new approach to cross-modal multimedia
    retrieval. ACM Multimedia, 2010.

    Examples
    --------
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.linear import SM
    >>> X_img, X_txt, y = make_cross_modal(300, n_classes=4, random_state=0)
    >>> sm = SM().fit(X_img, X_txt, y)
    >>> sm.transform_image(X_img).shape  # one posterior per class
    (300, 4)
    """

    _allows_unpaired = True

    def __init__(self, *, C=1.0, metric="normalized_correlation", max_iter=1000):
        self.C = C
        self.metric = metric
        self.max_iter = max_iter


class SCM(_SemanticMatching):
    """Semantic correlation matching: class posteriors of a correlation subspace.

    Both modalities are first projected on a maximally correlated subspace
    (:class:`CCA` or :class:`PLS`, fitted on the pairs); a multinomial
    logistic regression per modality then maps the projections to class
    posteriors, where images and texts are compared (Rasiwasia et al., 2010).
    Multi-label ``y`` gets per-label posteriors, as in :class:`SM`.

    Parameters
    ----------
    n_components : int or None, default=10
        Dimension of the common space (the correlation subspace). None uses the largest valid
        value (the rank of the CCA or PLS problem); a larger integer is clipped to it with a warning.
    subspace : {"cca", "pls"}, default="cca"
        Method learning the correlation subspace.
    reg : float, default=1e-3
        Ridge of the CCA subspace (ignored for PLS); see :class:`CCA`.
    C : float, default=1.0
        Inverse regularisation strength of the logistic regressions.
    metric : {"normalized_correlation", "centered_correlation"}, \
default="normalized_correlation"
        Comparison of posterior vectors: cosine ("normalized correlation",
        NC in the paper) or the correlation of mean-centred vectors.
    max_iter : int, default=1000
        Iterations of the logistic-regression solver.

    Attributes
    ----------
    subspace_ : CCA or PLS
        The fitted correlation subspace.
    image_classifier_, text_classifier_ : Pipeline
        The fitted per-modality classifiers (StandardScaler + LogisticRegression).
    classes_ : ndarray of shape (n_classes,)
        The classes; embedding column ``j`` is the posterior of ``classes_[j]``
        (for multi-label ``y``, the label column indices).
    n_features_image_in_ : int
        Number of image features seen in ``fit``.
    n_features_text_in_ : int
        Number of text features seen in ``fit``.

    See Also
    --------
    SM : Semantic matching on the raw features.
    CCA : Correlation matching alone.

    References
    ----------
    N. Rasiwasia, J. Costa Pereira, E. Coviello, G. Doyle, G. Lanckriet,
    R. Levy, N. Vasconcelos. A new approach to cross-modal multimedia
    retrieval. ACM Multimedia, 2010.

    Examples
    --------
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.linear import SCM
    >>> X_img, X_txt, y = make_cross_modal(300, n_classes=4, random_state=0)
    >>> scm = SCM(n_components=4).fit(X_img, X_txt, y)
    >>> scm.similarity(X_img[:2], X_txt[:3]).shape
    (2, 3)
    """

    _parameter_constraints = {
        **_SemanticMatching._parameter_constraints,
        "n_components": N_COMPONENTS_CONSTRAINT,
        "subspace": [StrOptions({"cca", "pls"})],
        "reg": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_components=10,
        *,
        subspace="cca",
        reg=1e-3,
        C=1.0,
        metric="normalized_correlation",
        max_iter=1000,
    ):
        self.n_components = n_components
        self.subspace = subspace
        self.reg = reg
        self.C = C
        self.metric = metric
        self.max_iter = max_iter

    def _fit_subspace(self, X_img, X_txt):
        if self.subspace == "cca":
            subspace = CCA(self.n_components, reg=self.reg)
        else:
            subspace = PLS(self.n_components)
        self.subspace_ = subspace.fit(X_img, X_txt)

    def _subspace_image(self, X_img):
        return self.subspace_.transform_image(X_img)

    def _subspace_text(self, X_txt):
        return self.subspace_.transform_text(X_txt)
