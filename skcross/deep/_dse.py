"""Deep semantic embedding (DSE): softmax, center-loss and distance-based-softmax training."""

import copy
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.metrics.pairwise import euclidean_distances
from skorch.callbacks import EarlyStopping, LRScheduler
from torch import nn
from torch.nn import functional as F

from ..base import cosine_similarity
from ..utils._sklearn_compat import Interval, StrOptions
from ._callbacks import TrainAccuracy
from ._docs import fill_shared_docs
from ._engine import DeepCrossModalMixin
from ._modules import TwoTowerModule

__all__ = ["DSE"]

_DEFAULT_LAM = {"softmax": 0.0, "center": 0.01, "dist_softmax": 0.1}
# The paper's schedule is written in epochs of its datasets: 1,888 to 2,808 items at batch 32, i.e. 59 to 88
# optimizer steps per epoch; Wikipedia's 2,173 training images give 68. Patiences are kept in steps.
_PAPER_STEPS_PER_EPOCH = 68
_PAPER_PLATEAU_PATIENCE, _PAPER_STOPPING_PATIENCE = 10, 15


def _branch(n_features, n_components):
    """One fully-connected layer to the common space, BatchNorm, LeakyReLU(0.2) (the paper's text branch)."""
    return nn.Sequential(nn.Linear(n_features, n_components), nn.BatchNorm1d(n_components), nn.LeakyReLU(0.2))


class DSELoss(nn.Module):
    """The loss of DSE-S, DSE-CS or DSE-DS, with the semantic parameters both modalities share.

    ``0.5 * loss(image embeddings) + 0.5 * loss(text embeddings)``, where for
    a batch of ``M`` embeddings ``x_i`` with classes ``y_i``:

    - ``"softmax"``: ``l_s = -(1/M) sum_i log softmax(W x_i + b)[y_i]``;
    - ``"center"``: ``l_s + lam * (1/M) sum_i ||x_i - c_{y_i}||^2``; the
      centers are not trained by the optimiser: after each training batch,
      ``c_j <- c_j - alpha * (c_j - mean of the batch's x_i of class j)``
      over the batch's images and texts, for the classes in the batch;
    - ``"dist_softmax"``: logits ``-||x_i - c_j||^2`` (no weights, bias or
      scale), ``(1/M) sum_i [-log softmax(-||x_i - c||^2)[y_i] + lam
      ||x_i - c_{y_i}||^2]``; centers learned by gradient.

    ``W, b`` and the centers are shared by both modalities: that is what
    makes the space common. The accuracy of the last training batch is kept
    in ``batch_accuracy_`` (for the paper's training-accuracy schedule).
    """

    def __init__(self, kind, n_components, n_classes, lam, center_alpha, center_init="random"):
        super().__init__()
        self.kind, self.lam, self.center_alpha = kind, lam, center_alpha
        if kind in ("softmax", "center"):
            self.classifier = nn.Linear(n_components, n_classes)
        start = 0.01 * torch.randn(n_classes, n_components) if center_init == "random" else torch.zeros(n_classes, n_components)
        if kind == "center":
            self.register_buffer("centers", start)
        elif kind == "dist_softmax":
            self.centers = nn.Parameter(start)
        self.batch_accuracy_ = float("nan")

    def set_centers(self, centers):
        """Start the class centers at ``centers`` (shape ``(n_classes, n_components)``)."""
        with torch.no_grad():
            self.centers.copy_(torch.as_tensor(centers, dtype=self.centers.dtype))

    def _squared_distances(self, x):
        """``||x_i - c_j||^2`` for every item and center."""
        return (x.pow(2).sum(1, keepdim=True) - 2 * x @ self.centers.T + self.centers.pow(2).sum(1)).clamp_min(0)

    def _modality_loss(self, x, labels):
        """Loss of one modality's embeddings, and its logits."""
        if self.kind == "dist_softmax":
            distances = self._squared_distances(x)
            logits = -distances
            pull = distances.gather(1, labels[:, None]).mean()
        else:
            logits = self.classifier(x)
            pull = (x - self.centers[labels]).pow(2).sum(1).mean() if self.kind == "center" else 0.0
        return F.cross_entropy(logits, labels) + self.lam * pull, logits

    def forward(self, outputs, labels):
        z_img, z_txt = outputs
        labels = labels.long()
        loss_img, logits_img = self._modality_loss(z_img, labels)
        loss_txt, logits_txt = self._modality_loss(z_txt, labels)
        if self.training:
            with torch.no_grad():
                predicted = torch.cat([logits_img, logits_txt]).argmax(1)
                self.batch_accuracy_ = (predicted == torch.cat([labels, labels])).float().mean().item()
                if self.kind == "center":
                    self._update_centers(torch.cat([z_img, z_txt]), torch.cat([labels, labels]))
        return 0.5 * loss_img + 0.5 * loss_txt

    def _update_centers(self, x, labels):
        one_hot = F.one_hot(labels, len(self.centers)).to(x.dtype)
        counts = one_hot.sum(0)
        present = counts > 0
        batch_means = (one_hot.T @ x)[present] / counts[present, None]
        self.centers[present] -= self.center_alpha * (self.centers[present] - batch_means)


@fill_shared_docs
class DSE(DeepCrossModalMixin, BaseEstimator):
    """Deep semantic embedding (DSE): class-discriminative embeddings shared by images and texts.

    Each modality has its own branch into one common space of width
    ``n_components``; the branches are trained so that the embeddings of
    both modalities are classified by *one* shared semantic layer: a softmax
    classifier (DSE-S), the same plus a center loss (DSE-CS), or a softmax
    over negative squared distances to shared class centers (DSE-DS, the
    paper's best). Training needs class labels but no pairs: every batch
    holds images and texts of the same classes, drawn independently, so
    ``fit(X_img, X_txt, (y_img, y_txt))`` works with modalities of different
    sizes. Retrieval compares embeddings with cosine similarity (or
    Euclidean distance). Single-label only.

    Parameters
    ----------
    n_components : int, default=2048
        Width ``d`` of the common space (ResNet-50's pooled output in the paper).
    loss : {"dist_softmax", "center", "softmax"}, default="dist_softmax"
        DSE-DS, DSE-CS or DSE-S (see :class:`DSELoss`).
    lam : float, default=None
        Weight of the center term: None uses the paper's 0.1 for
        "dist_softmax" and 0.01 for "center" (ignored by "softmax").
    center_alpha : float, default=0.5
        Step of the center update of DSE-CS.
    center_init : {"random", "class_means", "zeros"}, default="random"
        Where the class centers of DSE-CS and DSE-DS start (the paper does
        not say): "random" at ``0.01 * N(0, 1)``; "class_means" at the mean
        of each class's embeddings by the untrained network, images and
        texts together (one pass without gradients, in training mode,
        batches of ``batch_size`` rows of each modality, on a copy of the
        network); "zeros" at the origin. DSE-DS learns its centers by
        gradient, and Adam moves each coordinate by about ``lr`` per step, so
        centers that start near the origin need many steps to reach the
        embeddings: with the paper's schedule copied in epochs, CUB-10 (13
        steps per epoch) stopped after too few. With the schedule counted in
        steps (``callbacks``), "random" measured better than "class_means"
        on validation splits of CUB-10's training pairs (DSE-DS, lam=0.1,
        mean over three seeds and splits: 0.655 against 0.621), so it stays
        the default.
    metric : {"cosine", "euclidean"}, default="cosine"
        Similarity used for retrieval (cosine is better in all nine cells of
        the paper's Table 4).
    image_encoder : torch.nn.Module, default=None
        Image branch to train end to end, e.g. a torchvision ResNet-50 with
        its top layer replaced by ``nn.Identity()``; ``X_img`` is then
        anything it takes, such as images of shape ``(n, C, H, W)``, and its
        output width must equal ``n_components``. A copy is trained; the
        module passed in is left untouched. None (pre-extracted features):
        the image branch is the text branch's architecture, one
        fully-connected layer to ``n_components``, BatchNorm and
        LeakyReLU(0.2), standing in for the last layers of the paper's
        fine-tuned ResNet-50.
    max_epochs : int, default=400
        Most epochs (the paper's limit; early stopping usually ends sooner).
    batch_size : int, default=32
        Images per batch, and as many texts (of the same classes): 32 + 32.
    lr : float, default=1e-3
        Learning rate.
    optimizer : {"adam", "adamw", "sgd"} or torch optimizer class, default="adam"
        Optimizer.
    {optimizer_params}
    weight_decay : float, default=1e-3
        L2 penalty on every weight except the class centers (added to the
        gradient as in the paper's Keras L2 regularizer, up to its factor 2).
    {device}
    callbacks : list of skorch callbacks, default=None
        None installs the paper's schedule: learning rate x 0.1 when the
        training accuracy ``train_acc`` has not improved for 10 epochs
        (``LRScheduler(ReduceLROnPlateau)``), and early stopping when it has
        not improved for 15 (``EarlyStopping``), with the patiences counted
        in optimizer steps of the paper's epochs (68 steps, Wikipedia's 2,173
        images at batch 32; its datasets give 59 to 88): on a dataset with
        fewer steps per epoch they last proportionally more epochs (CUB-10,
        13 steps per epoch: 53 and 79 epochs), never fewer than 10 and 15. A list replaces them (``[]``
        trains for ``max_epochs``); ``train_acc`` is always recorded in
        ``net_.history``, so your callbacks can monitor it.
    {verbose}
    validation_fraction : float, default=None
        Fraction of the training items held out for validation; None (the
        paper's protocol) trains on all of them.
    random_state : int, RandomState instance or None, default=None
        Seeds torch (initialisation, batch order) and the class-matched draws.

    Attributes
    ----------
    net_ : CrossModalNet
        The trained skorch net; ``net_.criterion_`` holds the shared
        classifier and class centers, ``net_.history[:, "train_acc"]`` the
        training accuracy.
    classes_ : ndarray of shape (n_classes,)
        Class labels; center ``j`` is the center of ``classes_[j]``.
    n_epochs_ : int
        Epochs trained.
    {device_}
    n_features_image_in_ : int
        Number of image features (or values per image) seen in ``fit``.
    n_features_text_in_ : int
        Number of text features seen in ``fit``.
    image_shape_in_ : tuple of int
        Shape of one image seen in ``fit`` (only with ``image_encoder``).

    Notes
    -----
    Where the paper is silent, skcross chooses: the batch size counts images
    (32 images and 32 texts per batch); each epoch enumerates the larger
    modality once and draws each item's partner uniformly among the other
    modality's items of its class, afresh each time; DSE-CS and DSE-DS
    centers start at small random values (``center_init``); DSE-CS's centers are updated from the images and texts
    of the batch together; the schedule's patiences are counted in the
    paper's optimizer steps (``callbacks``); the last batch is dropped
    when it would hold a single item (BatchNorm cannot train on it). The
    paper fine-tunes ResNet-50 on raw images; with pre-extracted features
    the numbers are not comparable to its tables.

    DSE is scale-sensitive, though less than an MLP: the BatchNorm after each
    branch's linear layer removes the scale of the layer's output, but the
    bias, the weight decay and Adam's steps act on weights whose useful size
    depends on the input scale. Standardise features of a very different
    scale first (e.g. ``ModalityTransformer(image=StandardScaler())``).

    References
    ----------
    Learning deep semantic embeddings for cross-modal retrieval (DSE).
    Proceedings of Machine Learning Research (ACML), 2017.

    Examples
    --------
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.deep import DSE
    >>> X_img, X_txt, y = make_cross_modal(200, random_state=0)
    >>> model = DSE(n_components=32, max_epochs=3, verbose=0, random_state=0)
    >>> model.fit(X_img[:120], X_txt[120:], (y[:120], y[120:])).transform_text(X_txt).shape
    (200, 32)
    """

    _requires_labels = True
    _allows_unpaired = True
    _allows_multilabel = False

    _parameter_constraints = {
        **DeepCrossModalMixin._common_parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "loss": [StrOptions(set(_DEFAULT_LAM))],
        "lam": [Interval(Real, 0, None, closed="left"), None],
        "center_alpha": [Interval(Real, 0, 1, closed="both")],
        "center_init": [StrOptions({"class_means", "zeros", "random"})],
        "metric": [StrOptions({"cosine", "euclidean"})],
        "image_encoder": [nn.Module, None],
    }

    def __init__(
        self,
        *,
        n_components=2048,
        loss="dist_softmax",
        lam=None,
        center_alpha=0.5,
        center_init="random",
        metric="cosine",
        image_encoder=None,
        max_epochs=400,
        batch_size=32,
        lr=1e-3,
        optimizer="adam",
        optimizer_params=None,
        weight_decay=1e-3,
        device="auto",
        callbacks=None,
        verbose=1,
        validation_fraction=None,
        random_state=None,
    ):
        self.n_components = n_components
        self.loss = loss
        self.lam = lam
        self.center_alpha = center_alpha
        self.center_init = center_init
        self.metric = metric
        self.image_encoder = image_encoder
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

    def _accepts_image_tensors(self):
        return self.image_encoder is not None

    def _image_branch(self, n_features_image):
        if self.image_encoder is None:
            return _branch(n_features_image, self.n_components)
        encoder = copy.deepcopy(self.image_encoder)
        encoder.eval()
        with torch.no_grad():
            probe = torch.zeros((2, *self.image_shape_in_), dtype=torch.float32)
            width = encoder(probe).reshape(2, -1).shape[1]
        if width != self.n_components:
            raise ValueError(
                f"image_encoder outputs {width} features per image, but n_components={self.n_components}: "
                f"its output is the image embedding, so set n_components={width} (or change the encoder)."
            )
        return nn.Sequential(encoder, nn.Flatten())

    def _build_module(self, n_features_image, n_features_text, targets):
        return TwoTowerModule(self._image_branch(n_features_image), _branch(n_features_text, self.n_components))

    def _build_criterion(self):
        lam = _DEFAULT_LAM[self.loss] if self.lam is None else self.lam
        return DSELoss(self.loss, self.n_components, len(self.classes_), lam, self.center_alpha, self.center_init)

    def _prepare_criterion(self, module, criterion, X):
        """Start the centers at the class means of the untrained network's embeddings (``center_init``)."""
        if self.loss == "softmax" or self.center_init != "class_means":
            return
        probe = copy.deepcopy(module).to(self.device_).train()  # BatchNorm as in training; its buffers left alone
        rng = np.random.default_rng(0)  # only forms the batches of this pass
        sums = torch.zeros_like(criterion.centers, device=self.device_)
        counts = torch.zeros(len(sums), device=self.device_)
        with torch.no_grad():
            for rows, codes, embed in ((X.X_img, X.codes_img, probe.embed_image), (X.X_txt, X.codes_txt, probe.embed_text)):
                order = rng.permutation(len(rows))  # batches that mix the classes, as in training
                for start in range(0, len(order), self.batch_size):
                    batch = np.sort(order[start : start + self.batch_size])
                    if len(batch) < 2:
                        continue  # BatchNorm needs two rows
                    Z = embed(torch.as_tensor(rows[batch], device=self.device_))
                    labels = torch.as_tensor(codes[batch], device=self.device_)
                    sums.index_add_(0, labels, Z)
                    counts.index_add_(0, labels, torch.ones(len(batch), device=self.device_))
        criterion.set_centers((sums / counts.clamp_min(1)[:, None]).cpu())

    def _fixed_callbacks(self):
        return [("train_acc", TrainAccuracy())]

    def _default_callbacks(self, steps_per_epoch):
        def patience(epochs):  # the paper's patience in optimizer steps, never fewer epochs than the paper's
            return max(epochs, -(-epochs * _PAPER_STEPS_PER_EPOCH // steps_per_epoch))

        return [
            (
                "lr_plateau",
                LRScheduler(
                    policy="ReduceLROnPlateau", monitor="train_acc", mode="max", factor=0.1,
                    patience=patience(_PAPER_PLATEAU_PATIENCE),
                ),
            ),
            (
                "early_stopping",
                EarlyStopping(monitor="train_acc", lower_is_better=False, patience=patience(_PAPER_STOPPING_PATIENCE)),
            ),
        ]

    def _default_optimizer_params(self):
        return {"param_groups": [("centers", {"weight_decay": 0.0})]}

    def _ranks_by_cosine(self):
        return self.metric != "euclidean"

    def _similarity(self, Z_img, Z_txt):
        if self.metric == "euclidean":
            return -euclidean_distances(Z_img, Z_txt)
        return cosine_similarity(Z_img, Z_txt)
