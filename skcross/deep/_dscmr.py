"""Deep supervised cross-modal retrieval (Zhen, Hu, Wang and Peng, CVPR 2019)."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from torch import nn
from torch.nn import functional as F

from ..utils.validation import label_indicator
from ..utils._sklearn_compat import Interval
from ._docs import fill_shared_docs
from ._engine import DeepCrossModalMixin
from ._modules import TwoTowerModule

__all__ = ["DSCMR"]


class DSCMRModule(TwoTowerModule):
    """Two sub-networks whose last layer is shared, and a shared linear classifier.

    image -> Linear(d_img, hidden) -> ReLU -> shared Linear(hidden, dim) = u
    text  -> Linear(d_txt, hidden) -> ReLU -> shared Linear(hidden, dim) = v
    u, v  -> shared Linear(dim, n_labels) = label-space predictions
    """

    def __init__(self, n_features_image, n_features_text, hidden_size, n_components, n_labels):
        image_layer = nn.Sequential(nn.Linear(n_features_image, hidden_size), nn.ReLU())
        text_layer = nn.Sequential(nn.Linear(n_features_text, hidden_size), nn.ReLU())
        shared_layer = nn.Linear(hidden_size, n_components)  # one module object in both towers
        super().__init__(nn.Sequential(image_layer, shared_layer), nn.Sequential(text_layer, shared_layer))
        self.classifier = nn.Linear(n_components, n_labels)

    def forward(self, image, text):
        u, v = super().forward(image, text)
        return u, v, self.classifier(u), self.classifier(v)


class DSCMRLoss(nn.Module):
    """J = J1 + lam * J2 + eta * J3 of DSCMR.

    - J1, label-space discrimination: mean over samples of the L2 norm of
      (prediction - label vector), summed over the two modalities.
    - J2, common-space discrimination: negative log-likelihood of the label
      similarities S_ij (1 when two items share a label) under
      ``Gamma_ij = cos(a_i, b_j) / 2``: ``mean(log(1 + exp(Gamma)) - S Gamma)``
      over all pairs of the batch, for image-image, image-text and text-text.
    - J3, modality invariance: mean L2 distance between paired embeddings.
    """

    def __init__(self, lam, eta):
        super().__init__()
        self.lam, self.eta = lam, eta

    @staticmethod
    def _pairwise_nll(a, b, similar):
        gamma = 0.5 * F.normalize(a, dim=1) @ F.normalize(b, dim=1).T
        return (F.softplus(gamma) - similar * gamma).mean()

    def forward(self, outputs, labels):
        u, v, p_img, p_txt = outputs
        j1 = (p_img - labels).norm(dim=1).mean() + (p_txt - labels).norm(dim=1).mean()
        similar = (labels @ labels.T > 0).to(u.dtype)
        j2 = (
            self._pairwise_nll(u, u, similar)
            + self._pairwise_nll(u, v, similar)
            + self._pairwise_nll(v, v, similar)
        )
        j3 = (u - v).norm(dim=1).mean()
        return j1 + self.lam * j2 + self.eta * j3


@fill_shared_docs
class DSCMR(DeepCrossModalMixin, BaseEstimator):
    """Deep supervised cross-modal retrieval (DSCMR).

    Two fully-connected sub-networks (image, text) map features into a common
    space; their last layer's weights are shared, and a linear classifier
    ``P`` shared by both modalities maps the common space to the label space.
    Training minimises ``J1 + lam * J2 + eta * J3`` (label-space loss,
    pairwise common-space loss, modality invariance; see
    :class:`DSCMRLoss`). Retrieval compares the common-space embeddings with
    cosine similarity. Single- and multi-label ``y`` are supported (label
    similarity = at least one shared label).

    Parameters
    ----------
    hidden_size : int, default=2048
        Units of each modality's first layer (ReLU).
    n_components : int, default=1024
        Dimension of the common space (the shared layer's output).
    lam : float, default=1e-3
        Weight of the pairwise common-space loss J2.
    eta : float, default=0.1
        Weight of the modality-invariance loss J3.
    max_epochs : int, default=500
        Training epochs (the authors' setting).
    batch_size : int, default=100
        Pairs per batch.
    lr : float, default=1e-4
        Learning rate.
    optimizer : {"adam", "adamw", "sgd"} or torch optimizer class, default="adam"
        Optimizer; with Adam the paper's betas (0.5, 0.999) are used unless
        ``optimizer_params`` says otherwise.
    {optimizer_params}
    weight_decay : float, default=0.0
        L2 penalty.
    {device}
    callbacks : list of skorch callbacks, default=None
        E.g. ``EarlyStopping`` (with ``validation_fraction``), ``Checkpoint``,
        ``LRScheduler``, ``ProgressBar``.
    {verbose}
    validation_fraction : float, default=None
        Fraction of the training pairs held out for validation (never the
        test data); None trains on all of them.
    random_state : int, RandomState instance or None, default=None
        Seeds torch (initialisation, batch order).

    Attributes
    ----------
    net_ : CrossModalNet
        The trained skorch net (``history``, ``save_params``...).
    n_epochs_ : int
        Epochs trained.
    {device_}
    {n_features_in_}

    Notes
    -----
    Where the paper leaves choices open, skcross follows the authors' public
    code: the classifier ``P`` is learned by gradient descent with the rest
    of the network (the paper also derives a closed form), J1 uses the
    unsquared L2 norm, the shared layer has no activation, and Adam uses
    betas (0.5, 0.999). Unlike that code, skcross shuffles the training
    batches and never selects an epoch on test data: the model returned is
    the one training ends with.

    DSCMR is scale-sensitive: its inputs go unscaled into ``Linear + ReLU``
    layers initialised for inputs of unit scale, as in the paper (whose VGG
    and text-CNN features are on that scale). Features of a tiny or huge
    scale train slower or saturate: standardise them first (e.g.
    ``ModalityTransformer(image=StandardScaler())`` in a Pipeline). The
    collapse guard warns if a modality ends collapsed.

    References
    ----------
    L. Zhen, P. Hu, X. Wang, D. Peng. Deep supervised cross-modal retrieval.
    CVPR, 2019.

    Examples
    --------
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.deep import DSCMR
    >>> X_img, X_txt, y = make_cross_modal(200, random_state=0)
    >>> model = DSCMR(hidden_size=64, n_components=16, max_epochs=5, lr=1e-3,
    ...               verbose=0, random_state=0).fit(X_img, X_txt, y)
    >>> model.transform_image(X_img).shape
    (200, 16)
    """

    _requires_labels = True

    _parameter_constraints = {
        **DeepCrossModalMixin._common_parameter_constraints,
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "lam": [Interval(Real, 0, None, closed="left")],
        "eta": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        hidden_size=2048,
        n_components=1024,
        lam=1e-3,
        eta=0.1,
        max_epochs=500,
        batch_size=100,
        lr=1e-4,
        optimizer="adam",
        optimizer_params=None,
        weight_decay=0.0,
        device="auto",
        callbacks=None,
        verbose=1,
        validation_fraction=None,
        random_state=None,
    ):
        self.hidden_size = hidden_size
        self.n_components = n_components
        self.lam = lam
        self.eta = eta
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.optimizer_params = optimizer_params
        self.weight_decay = weight_decay
        self.device = device
        self.callbacks = callbacks
        self.verbose = verbose
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def _targets(self, y, n_samples):
        classes, targets = label_indicator(y)
        if classes is not None:
            self.classes_ = classes
        return targets.astype(np.float32)

    def _build_module(self, n_features_image, n_features_text, targets):
        return DSCMRModule(n_features_image, n_features_text, self.hidden_size, self.n_components, targets.shape[1])

    def _build_criterion(self):
        return DSCMRLoss(self.lam, self.eta)

    def _default_optimizer_params(self):
        return {"betas": (0.5, 0.999)} if self.optimizer == "adam" else {}
