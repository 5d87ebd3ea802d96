"""Cross-media similarity metric learning with unified deep networks (UNCSM)."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.nn import functional as F

from ..base import cosine_similarity
from ..utils._sklearn_compat import Interval, StrOptions
from ._datasets import PairIndexDataset
from ._docs import fill_shared_docs
from ._engine import DeepCrossModalMixin, _as_float32
from ._modules import TwoTowerModule, mlp

__all__ = ["UNCSM"]

STAGES = ("features", "pretrain", "finetune", "metric")
# Per-stage settings over the common max_epochs / lr / batch_size (see the UNCSM docstring).
DEFAULT_STAGE_PARAMS = {"metric": {"max_epochs": 3, "batch_size": 1000}}
_METRIC_BLOCK_PAIRS = 1 << 16  # image-text pairs through the metric network at once (~130 MiB of activations)


class FeatureNetworks(TwoTowerModule):
    """The input stage: per-modality networks d -> 1024 -> 1024 (ReLU), each with its own softmax head.

    ``embed_image``/``embed_text`` give the 1024-d refined features (what
    the pathways read once this stage is frozen).
    """

    def __init__(self, n_features_image, n_features_text, width, n_classes):
        super().__init__(mlp([n_features_image, width, width], nn.ReLU, last_activation=True),
                         mlp([n_features_text, width, width], nn.ReLU, last_activation=True))
        self.image_head = nn.Linear(width, n_classes)
        self.text_head = nn.Linear(width, n_classes)

    def forward(self, image, text):
        refined_image, refined_text = super().forward(image, text)
        return self.image_head(refined_image), self.text_head(refined_text)


class SoftmaxLoss(nn.Module):
    """Mean cross-entropy of the two modalities' class predictions (the input stage's loss)."""

    def forward(self, outputs, labels):
        labels = labels.long()
        return 0.5 * (F.cross_entropy(outputs[0], labels) + F.cross_entropy(outputs[1], labels))

    def collapsed_loss(self, labels):
        """The loss of predicting the class frequencies whatever the input: their entropy."""
        return _entropy(np.bincount(np.asarray(labels, dtype=np.int64)))


class Pathways(TwoTowerModule):
    """Two separate pathways 1024 -> 512 -> 256 (no shared weights) over the frozen input stage.

    ``embed_image``/``embed_text`` give the shared 256-d representation
    ``f_i``/``f_t``. ``branch_image`` and ``branch_text`` are the two sigmoid
    fully-connected branches of the fine-tuning stage, one per term of the
    double triplet loss.
    """

    def __init__(self, feature_image, feature_text, n_inputs_image, n_inputs_text, sizes=(512, 256)):
        for parameter in [*feature_image.parameters(), *feature_text.parameters()]:
            parameter.requires_grad_(False)
        image_pathway = mlp([n_inputs_image, *sizes], nn.ReLU, last_activation=False)
        text_pathway = mlp([n_inputs_text, *sizes], nn.ReLU, last_activation=False)
        super().__init__(nn.Sequential(feature_image, image_pathway), nn.Sequential(feature_text, text_pathway))
        self.branch_image = nn.Sequential(nn.Linear(sizes[-1], sizes[-1]), nn.Sigmoid())
        self.branch_text = nn.Sequential(nn.Linear(sizes[-1], sizes[-1]), nn.Sigmoid())

    def forward(self, image, text):
        f_i, f_t = super().forward(image, text)
        return f_i, f_t, (self.branch_image(f_i), self.branch_image(f_t)), (self.branch_text(f_i), self.branch_text(f_t))


def _same_label(labels):
    return labels[:, None] == labels[None, :]


class ContrastiveLoss(nn.Module):
    """Pre-training: ``||f_i - f_t||^2`` for same-label image-text pairs, ``max(0, margin - ||f_i - f_t||)^2`` otherwise.

    Every image-text combination of the batch is a training pair; the mean
    over similar pairs and the mean over dissimilar pairs are averaged, so the
    (far more numerous) dissimilar pairs do not swamp the similar ones.
    """

    def __init__(self, margin):
        super().__init__()
        self.margin = margin

    def forward(self, outputs, labels):
        f_i, f_t = outputs[0], outputs[1]
        distance = torch.cdist(f_i, f_t)
        similar = _same_label(labels)
        terms = []
        if similar.any():
            terms.append(distance[similar].pow(2).mean())
        if (~similar).any():
            terms.append(F.relu(self.margin - distance[~similar]).pow(2).mean())
        return sum(terms) / len(terms)

    def collapsed_loss(self, labels):
        """``margin^2 / 4``: the best loss when every distance is the same, whatever the classes."""
        return self.margin**2 / 4


class DoubleTripletLoss(nn.Module):
    """Fine-tuning: ``S_i + S_t`` over every valid triplet of the batch.

    ``S_i = max(0, ||g(I+) - g(T+)||^2 - ||g(I+) - g(T-)||^2 + alpha)`` for an
    image anchor ``I+``, a text ``T+`` of its class and a text ``T-`` of
    another, read on the image-term branch ``g``; ``S_t`` is its mirror (text
    anchor, images ``I+``/``I-``, margin ``beta``) read on the text-term
    branch. Online sampling: every (anchor, positive, negative) combination
    within the batch counts ("batch all"), and each term is the mean over its
    triplets.
    """

    def __init__(self, alpha, beta):
        super().__init__()
        self.alpha, self.beta = alpha, beta

    @staticmethod
    def _term(anchors, others, similar, margin):
        d = torch.cdist(anchors, others).pow(2)
        valid = similar[:, :, None] & ~similar[:, None, :]  # anchor a, positive p, negative n
        if not valid.any():
            return d.sum() * 0.0
        return F.relu(d[:, :, None] - d[:, None, :] + margin)[valid].mean()

    def forward(self, outputs, labels):
        (gi_img, gi_txt), (gt_img, gt_txt) = outputs[2], outputs[3]
        similar = _same_label(labels)
        return self._term(gi_img, gi_txt, similar, self.alpha) + self._term(gt_txt, gt_img, similar, self.beta)

    def collapsed_loss(self, labels):
        """``alpha + beta``: the loss when every branch output is the same point."""
        return self.alpha + self.beta


class MetricNetwork(nn.Module):
    """``[f_i; f_t]`` -> three fully-connected layers of 512 (ReLU) -> 2-way logits (dissimilar, similar)."""

    def __init__(self, n_components, width=512):
        super().__init__()
        self.first_image = nn.Linear(n_components, width)
        self.first_text = nn.Linear(n_components, width, bias=False)
        self.rest = nn.Sequential(nn.ReLU(), mlp([width, width, width], nn.ReLU, last_activation=True), nn.Linear(width, 2))

    def forward(self, image, text):
        # Linear on the concatenation [f_i; f_t] = W_i f_i + W_t f_t + b
        return self.rest(self.first_image(image) + self.first_text(text))

    def similarity_log_odds(self, Z_img, Z_txt, block_pairs=_METRIC_BLOCK_PAIRS):
        """``log(p(similar) / p(dissimilar))`` for every image-text combination.

        It ranks exactly as ``p(similar)`` (a strictly increasing function of
        it) but does not saturate at 1.0 in floating point, where ``p`` would
        turn the best matches into ties. The first layer is applied to each
        embedding once; only the combination and the later layers run per
        pair, one block of image rows at a time, so memory is bounded by
        ``block_pairs`` whatever the number of images and texts.
        """
        A, B = self.first_image(Z_img), self.first_text(Z_txt)
        rows = max(1, block_pairs // max(1, len(B)))
        out = []
        for start in range(0, len(A), rows):
            logits = self.rest(A[start : start + rows, None, :] + B[None, :, :])
            out.append(logits[..., 1] - logits[..., 0])
        return torch.cat(out)


def sample_metric_pairs(codes, n_pairs, rng):
    """Random image-text index pairs, half of the same class and half of different classes.

    Parameters
    ----------
    codes : ndarray of int of shape (n_samples,)
        Class code of each training pair (image ``i`` and text ``i`` share it).
    n_pairs : int
        Number of pairs; ``n_pairs // 2`` are similar.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    image_index, text_index : ndarray of int
        The pairs.
    targets : ndarray of int64
        1 for a similar pair, 0 for a dissimilar one.
    """
    n = len(codes)
    n_similar = n_pairs // 2
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], codes)
    counts = np.bincount(codes)[codes]
    anchors = rng.integers(n, size=n_pairs)
    similar_partner = order[starts[anchors[:n_similar]] + rng.integers(counts[anchors[:n_similar]])]
    # a dissimilar partner: a uniform draw among the items of other classes
    others = anchors[n_similar:]
    offset = rng.integers(n - counts[others])
    dissimilar_partner = order[np.where(offset < starts[others], offset, offset + counts[others])]
    texts = np.concatenate([similar_partner, dissimilar_partner])
    targets = np.r_[np.ones(n_similar, np.int64), np.zeros(n_pairs - n_similar, np.int64)]
    return anchors, texts, targets


@fill_shared_docs
class UNCSM(DeepCrossModalMixin, BaseEstimator):
    """Cross-media similarity metric learning with unified deep networks (UNCSM).

    Four stages, run in order inside ``fit``, each through the deep engine:

    1. **Input stage** (``feature_network=True``): per-modality networks
       ``d -> 1024 -> 1024`` (ReLU) trained with a softmax loss on the labels;
       their 1024-d output feeds the pathways and is then frozen.
    2. **Pre-training** (``pretrain=True``): two separate pathways
       ``1024 -> 512 -> 256`` (ReLU hidden layer, linear output) trained with
       the contrastive loss (see :class:`ContrastiveLoss`, ``margin``).
    3. **Fine-tuning**: the double triplet loss ``S_i + S_t`` (see
       :class:`DoubleTripletLoss`, ``alpha``, ``beta``), read on two sigmoid
       fully-connected branches (width 256) on top of the pathways, one per
       term, whose gradients sum into the pathways. The pathways' 256-d
       outputs are the shared representation (``transform_image`` /
       ``transform_text``); the branches serve training only.
    4. **Metric network** (``similarity_metric="network"``): on the frozen
       representations, ``[f_i; f_t]`` (512-d) -> three layers of 512 (ReLU)
       -> 2-way softmax, trained with cross-entropy on ``n_metric_pairs``
       randomly drawn image-text pairs, half of the same class and half of
       different classes. Its ``p(similar)`` ranks every retrieval (scorers,
       ``cross_modal_map``, ``GridSearchCV``): ``similarity`` returns its
       log-odds, which ranks identically without saturating at 1.0, computed
       block by block in bounded memory. ``similarity_metric="cosine"`` skips this
       stage and ranks by cosine similarity (the paper's Table 5 ablation).

    Parameters
    ----------
    feature_network : bool, default=True
        Refine each modality with the supervised input stage first; False
        feeds the features to the pathways directly.
    pretrain : bool, default=True
        Run the contrastive pre-training stage (the paper's Table 6 ablation).
    similarity_metric : {"network", "cosine"}, default="network"
        Learned metric network, or cosine on the representation.
    margin : float, default=1.0
        Margin ``lambda`` of the contrastive loss.
    alpha, beta : float, default=1.0
        Margins of the image- and text-anchored triplet terms.
    n_metric_pairs : int, default=300_000
        Image-text pairs drawn to train the metric network (the paper's
        Wikipedia setting), half similar.
    stage_params : dict, default=None
        Per-stage overrides of ``max_epochs``, ``lr`` and ``batch_size``,
        keyed by "features", "pretrain", "finetune" or "metric", e.g.
        ``{"metric": {"max_epochs": 2}}``. Merged over the defaults
        ``{"metric": {"max_epochs": 3, "batch_size": 1000}}`` (3 x 300
        iterations of 1,000 pairs, within the paper's "less than 10K
        iterations for each part").
    standardize : bool, default=True
        Centre each modality on its training mean and divide it by its
        training standard deviation (scikit-learn's ``StandardScaler``; a
        constant column keeps scale 1), learned in ``fit`` and applied by
        every path that embeds (``transform_*``, ``similarity``, the metrics,
        the index). It stands in for the paper's RBM / Replicated-Softmax
        preprocessing, whose features are on a unit scale. False feeds the
        raw features: then the method is scale-sensitive (its MLPs start
        from a random initialisation scaled for unit inputs), and on
        features of a tiny scale, such as Wikipedia's L1-normalised SIFT
        histograms (column std about 0.01), the image side never leaves its
        initial constant output.
    max_epochs : int, default=100
        Epochs of each stage without an override.
    batch_size : int, default=100
        Pairs per batch of each stage without an override.
    lr : float, default=1e-2
        Learning rate of every stage without an override. The paper's base
        rate is 1e-3 with up to 10K iterations per stage; skcross's stages
        are 100 epochs (400 to 2,200 iterations on the shared datasets),
        where 1e-3 leaves the losses near their collapsed values
        (pre-training ``margin**2 / 4``, fine-tuning ``alpha + beta``, the
        metric network ``ln 2``). With 1e-2 and standardised inputs every
        stage leaves them on the shared Wikipedia and CUB features (see the
        method's page for the loss values); without standardisation, the
        Wikipedia image side collapsed at 1e-2 too.
    optimizer : {"sgd", "adam", "adamw"} or torch optimizer class, default="sgd"
        Optimizer of every stage; SGD uses momentum 0.9 unless
        ``optimizer_params`` says otherwise.
    {optimizer_params}
    weight_decay : float, default=4e-3
        L2 penalty (the paper's).
    {device}
    callbacks : list of skorch callbacks, default=None
        skorch callbacks, installed (as copies) in every stage.
    {verbose}
    validation_fraction : float, default=None
        Fraction of each stage's training data held out for validation.
    random_state : int, RandomState instance or None, default=None
        Seeds torch and the metric pairs.

    Attributes
    ----------
    net_ : CrossModalNet
        The fine-tuned pathways (``net_.module_.embed_image`` / ``embed_text``).
    stage_nets_ : dict of str to CrossModalNet
        Each stage's trained net, with its ``history``, in the order run.
    metric_net_ : CrossModalNet or None
        The metric network's net (None with ``similarity_metric="cosine"``).
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    image_scaler_, text_scaler_ : StandardScaler
        Each modality's standardisation (``standardize=True`` only).
    stage_epochs_ : dict of str to int
        Epochs trained per stage.
    n_epochs_ : int
        Epochs trained over all stages.
    {device_}
    {n_features_in_}

    Notes
    -----
    Departures: the learning rate (see ``lr``); standardised inputs in place
    of the paper's RBM-preprocessed ones (see ``standardize``). At the end of
    each stage a ``ConvergenceWarning`` says if a modality's embeddings or
    the stage's loss ended collapsed. Choices where the paper is silent: the input stage is trained with
    back-propagation from random initialisation (no RBM/DBN pre-training);
    pathways use ReLU hidden layers and a linear output; SGD momentum 0.9 and
    batches of 100 pairs; the contrastive stage uses every image-text
    combination of a batch, balancing similar and dissimilar pairs; triplets
    are every valid combination of a batch; the metric network's first layer
    is split into an image part and a text part (the same function as one
    layer on the concatenation), which lets ``similarity`` apply it to each
    embedding once. A ``KeyboardInterrupt`` (or skorch's ``EarlyStopping``)
    ends the current stage, as in skorch, and training goes on with the next. Multi-label ``y`` is refused: the input stage's softmax
    loss is single-label. Training pairs must be paired rows.

    References
    ----------
    J. Qi, X. Huang, Y. Peng. Cross-media similarity metric learning with
    unified deep networks. Multimedia Tools and Applications, 2017.

    Examples
    --------
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.deep import UNCSM
    >>> X_img, X_txt, y = make_cross_modal(200, random_state=0)
    >>> model = UNCSM(max_epochs=2, n_metric_pairs=2000, verbose=0, random_state=0).fit(X_img, X_txt, y)
    >>> model.similarity(X_img[:3], X_txt[:4]).shape
    (3, 4)
    >>> sorted(model.stage_nets_)
    ['features', 'finetune', 'metric', 'pretrain']
    """

    _requires_labels = True
    _allows_multilabel = False

    _parameter_constraints = {
        **DeepCrossModalMixin._common_parameter_constraints,
        "feature_network": ["boolean"],
        "pretrain": ["boolean"],
        "similarity_metric": [StrOptions({"network", "cosine"})],
        "margin": [Interval(Real, 0, None, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "beta": [Interval(Real, 0, None, closed="left")],
        "n_metric_pairs": [Interval(Integral, 2, None, closed="left")],
        "stage_params": [dict, None],
        "standardize": ["boolean"],
    }

    def __init__(
        self,
        *,
        feature_network=True,
        pretrain=True,
        similarity_metric="network",
        margin=1.0,
        alpha=1.0,
        beta=1.0,
        n_metric_pairs=300_000,
        stage_params=None,
        standardize=True,
        max_epochs=100,
        batch_size=100,
        lr=1e-2,
        optimizer="sgd",
        optimizer_params=None,
        weight_decay=4e-3,
        device="auto",
        callbacks=None,
        verbose=1,
        validation_fraction=None,
        random_state=None,
    ):
        self.feature_network = feature_network
        self.pretrain = pretrain
        self.similarity_metric = similarity_metric
        self.margin = margin
        self.alpha = alpha
        self.beta = beta
        self.n_metric_pairs = n_metric_pairs
        self.stage_params = stage_params
        self.standardize = standardize
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

    def _default_optimizer_params(self):
        return {"momentum": 0.9} if self.optimizer == "sgd" else {}

    def _stage(self, name):
        unknown = set(self.stage_params or {}) - set(STAGES)
        if unknown:
            raise ValueError(f"stage_params has unknown stages {sorted(unknown)}; use {list(STAGES)}.")
        params = {**DEFAULT_STAGE_PARAMS.get(name, {}), **(self.stage_params or {}).get(name, {})}
        bad = set(params) - {"max_epochs", "lr", "batch_size"}
        if bad:
            raise ValueError(f"stage_params[{name!r}] has unknown keys {sorted(bad)}; use max_epochs, lr, batch_size.")
        return params

    _supports_partial_fit = False  # four stages in order: continuing one of them alone is not the method

    def _fit(self, X_img, X_txt, y):
        stages = [self._stage(name) for name in STAGES]  # validate every stage's settings before training
        seed = self._start_training()
        codes, _ = self._class_codes(y)  # sets classes_
        if len(self.classes_) < 2:  # the metric network and the triplets need pairs of different classes
            raise ValueError(f"UNCSM needs y with at least 2 classes (its dissimilar pairs are pairs of different "
                             f"classes), got {np.asarray(self.classes_).tolist()}.")
        if self.standardize:
            self.image_scaler_ = StandardScaler().fit(_as_float32(X_img))
            self.text_scaler_ = StandardScaler().fit(_as_float32(X_txt))
        X = {"image": self._prepare(X_img, "image"), "text": self._prepare(X_txt, "text")}
        probe = self._collapse_probe(X["image"], X["text"], seed)
        n = len(codes)
        nets = {}
        if self.feature_network:
            width = 1024
            features = FeatureNetworks(X_img.shape[1], X_txt.shape[1], width, len(self.classes_))
            nets["features"] = self._train_stage(features, SoftmaxLoss(), X, codes, seed, n, probe=probe,
                                                 loss_targets=codes, stage="features", **stages[0])
            pathways = Pathways(features.image_tower, features.text_tower, width, width)
        else:
            pathways = Pathways(nn.Identity(), nn.Identity(), X_img.shape[1], X_txt.shape[1])
        if self.pretrain:
            nets["pretrain"] = self._train_stage(pathways, ContrastiveLoss(self.margin), X, codes, seed, n, probe=probe,
                                                 stage="pre-training", **stages[1])
        triplets = DoubleTripletLoss(self.alpha, self.beta)
        nets["finetune"] = self.net_ = self._train_stage(pathways, triplets, X, codes, seed, n, probe=probe,
                                                         stage="fine-tuning", **stages[2])
        self.metric_net_ = None
        if self.similarity_metric == "network":
            Z_img, Z_txt = self._embed(X["image"], "embed_image"), self._embed(X["text"], "embed_text")
            pairs = PairIndexDataset(Z_img, Z_txt, *sample_metric_pairs(codes, self.n_metric_pairs, np.random.default_rng(seed)))
            metric = MetricNetwork(Z_img.shape[1])
            nets["metric"] = self.metric_net_ = self._train_stage(
                metric, _CrossEntropy(), pairs, None, seed, self.n_metric_pairs, loss_targets=pairs.targets,
                stage="metric network", **stages[3]
            )
        self.stage_nets_ = nets
        self.stage_epochs_ = {name: len(net.history) for name, net in nets.items()}
        self.n_epochs_ = sum(self.stage_epochs_.values())

    def _prepare(self, X, modality):
        """Float32 features, standardised with the training statistics when ``standardize=True``."""
        X = _as_float32(X, "X_img" if modality == "image" else "X_txt")
        if not self.standardize:
            return X
        return np.ascontiguousarray(getattr(self, f"{modality}_scaler_").transform(X), dtype=np.float32)

    def _transform_image(self, X_img):
        return self._embed(self._prepare(X_img, "image"), "embed_image").astype(X_img.dtype, copy=False)

    def _transform_text(self, X_txt):
        return self._embed(self._prepare(X_txt, "text"), "embed_text").astype(X_txt.dtype, copy=False)

    def _ranks_by_cosine(self):
        return self.similarity_metric == "cosine"

    def _similarity(self, Z_img, Z_txt):
        if self.similarity_metric == "cosine":
            return cosine_similarity(Z_img, Z_txt)
        module = self.metric_net_.module_
        module.eval()
        device = self.metric_net_.device
        with torch.no_grad():
            S = module.similarity_log_odds(
                torch.as_tensor(_as_float32(Z_img), device=device), torch.as_tensor(_as_float32(Z_txt), device=device)
            )
        return S.cpu().numpy().astype(np.result_type(Z_img.dtype, Z_txt.dtype), copy=False)


class _CrossEntropy(nn.Module):
    """Cross-entropy of the metric network's 2-way logits against the 0/1 similarity targets."""

    def forward(self, logits, targets):
        return F.cross_entropy(logits, targets.long())

    def collapsed_loss(self, targets):
        """The entropy of the similar / dissimilar shares (ln 2 for the balanced pairs)."""
        return _entropy(np.bincount(np.asarray(targets, dtype=np.int64)))


def _entropy(counts):
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())
