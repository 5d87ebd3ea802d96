"""The training engine shared by every deep method: one skorch NeuralNet subclass.

A deep method supplies an ``nn.Module`` whose ``forward(image, text)``
returns what its loss needs and which exposes ``embed_image`` and
``embed_text``, plus a loss ``nn.Module`` called as ``loss(outputs, targets)``.
:class:`DeepCrossModalMixin` turns that into a scikit-learn estimator.

The engine's parts live beside it: the training sets in ``_datasets``, the
callbacks in ``_callbacks``, the MLP builder and the two-tower module in
``_modules``, the shared docstring paragraphs in ``_docs`` and SSPE's graphs
in ``_graph_sampling``; each method file (``_dcca``, ``_dscmr``, ``_dse``,
``_sspe``, ``_uncsm``) holds its module, loss and estimator only.
"""

import contextlib
import copy
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state, metadata_routing
from sklearn.utils.metaestimators import available_if
from skorch import NeuralNet
from skorch.dataset import ValidSplit

from ..base import CrossModalMixin
from ..utils._device import resolve_device
from ..utils._threads import ThreadPolicy
from ..utils._sklearn_compat import Interval, StrOptions
from ._callbacks import EpochProgressBar, ReviseThreads
from ._datasets import ClassMatchedDataset

__all__ = ["CrossModalNet", "DeepCrossModalMixin", "resolve_device"]

_OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}
_INFERENCE_BATCH = 4096
# The collapse guard: training rows embedded after each stage, and the thresholds of a collapse.
_PROBE_ROWS = 512
_COLLAPSED_SPREAD = 1e-2  # spread of a modality's embeddings below this share of their mean norm
_COLLAPSED_LOSS_RTOL = 0.02  # a final loss within 2 % of the loss's collapsed value


class CrossModalNet(NeuralNet):
    """skorch ``NeuralNet`` for two-modality batches.

    ``X`` is a dict ``{"image": ..., "text": ...}`` (skorch slices dicts row
    by row, so each batch keeps its pairs), ``y`` holds the method's targets
    (label indicators, or zeros for unsupervised methods); the module is
    called as ``module(image=..., text=...)`` and the criterion as
    ``criterion(outputs, targets)``. A non-finite loss stops training with a
    ``FloatingPointError`` naming the epoch, so no NaN model is ever returned;
    running out of memory raises a ``MemoryError`` saying which
    ``batch_size`` to try. A ``KeyboardInterrupt`` (Ctrl-C, or skorch's
    ``EarlyStopping``, which stops training that way) ends training as in
    skorch: the net keeps the weights reached so far and is usable, and its
    ``history`` says how many epochs ran.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skcross.deep import CrossModalNet
    >>> class Pair(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.a, self.b = torch.nn.Linear(3, 2), torch.nn.Linear(4, 2)
    ...     def forward(self, image, text):
    ...         return self.a(image), self.b(text)
    >>> class Distance(torch.nn.Module):
    ...     def forward(self, outputs, targets):
    ...         return (outputs[0] - outputs[1]).pow(2).mean()
    >>> net = CrossModalNet(Pair, criterion=Distance, max_epochs=2, verbose=0, train_split=None)
    >>> X = {"image": np.ones((8, 3), np.float32), "text": np.ones((8, 4), np.float32)}
    >>> _ = net.fit(X, np.zeros(8, np.float32))
    >>> len(net.history)
    2
    """

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except Exception as exc:
            if _is_out_of_memory(exc):
                raise MemoryError(
                    f"training ran out of memory on device {self.device!r} with batch_size="
                    f"{self.batch_size}; lower batch_size (e.g. batch_size={max(1, self.batch_size // 2)}) "
                    "or train on a device with more memory."
                ) from exc
            raise

    def get_loss(self, y_pred, y_true, X=None, training=False):
        try:
            loss = self.criterion_(y_pred, torch.as_tensor(y_true, device=self.device))
        except torch.linalg.LinAlgError as exc:
            raise FloatingPointError(
                f"the loss could not be computed in epoch {len(self.history)} ({exc}); "
                "the network's outputs have degenerated: lower the learning rate or "
                "increase the regularisation."
            ) from exc
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"the training loss became {loss.item()} in epoch {len(self.history)}; "
                "lower the learning rate or check the inputs for extreme values."
            )
        return loss


class DeepCrossModalMixin(CrossModalMixin):
    """scikit-learn facade of a deep cross-modal method trained by :class:`CrossModalNet`.

    Subclasses implement ``_build_module(n_features_image, n_features_text,
    targets)`` (returning an ``nn.Module`` instance, usually a
    ``deep._modules.TwoTowerModule`` of two ``mlp`` towers or a subclass of
    it), ``_build_criterion()``
    and optionally ``_targets(y, n_samples)`` (default: zeros),
    ``_default_callbacks(steps_per_epoch)`` (the paper's schedule, used when
    ``callbacks=None``) and ``_fixed_callbacks()`` (always installed, before
    the user's), and declare their own parameters besides the common ones
    below.

    Batches are formed here, in one place: methods that need pairs get
    batches of paired rows; methods that allow unpaired data
    (``_allows_unpaired``, ``y=(y_img, y_txt)``) get class-matched image and
    text draws (:class:`ClassMatchedDataset`), whether or not the data is
    paired, and their targets are class codes (``classes_``).

    Common parameters: ``max_epochs``, ``batch_size``, ``lr``, ``optimizer``
    ("adam", "adamw", "sgd" or a ``torch.optim.Optimizer`` class),
    ``optimizer_params`` (extra optimizer arguments), ``weight_decay``, ``device`` ("auto" picks CUDA when available),
    ``callbacks`` (skorch callbacks), ``verbose`` (0: silent, 1: one compact
    progress bar per training stage (:class:`EpochProgressBar`), 2: skorch's
    epoch table),
    ``validation_fraction`` (None: train on everything; a float carves a
    validation split from the training data, for skorch's ``EarlyStopping``),
    ``random_state`` (seeds torch and the batch order).
    """

    _preserves_float32 = True  # the network computes in float32 whatever the input

    _common_parameter_constraints = {
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), type],
        "optimizer_params": [dict, None],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "device": [str],
        "callbacks": [list, None],
        "verbose": ["verbose"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "random_state": ["random_state"],
    }

    def _build_module(self, n_features_image, n_features_text, targets):
        raise NotImplementedError

    def _build_criterion(self):
        raise NotImplementedError

    def _targets(self, y, n_samples):
        """Training targets given to the loss; zeros for unsupervised methods."""
        return np.zeros(n_samples, dtype=np.float32)

    def _default_optimizer_params(self):
        """Optimizer settings of the method's paper, overridden by ``optimizer_params``."""
        return {}

    def _default_callbacks(self, steps_per_epoch):
        """Callbacks used when ``callbacks=None`` (e.g. the paper's learning-rate schedule).

        ``steps_per_epoch`` (optimizer steps in one epoch of this training
        run) lets a schedule written in epochs by a paper keep its number of
        updates on a smaller dataset.
        """
        return []

    def _fixed_callbacks(self):
        """Callbacks always installed before the user's (e.g. ones recording a score they monitor)."""
        return []

    def _class_codes(self, y):
        """Class codes of each modality's rows (for class-matched batches or class-coded targets); sets ``classes_``."""
        y_img, y_txt = y if isinstance(y, tuple) else (y, y)
        classes = np.unique(np.concatenate([y_img, y_txt]))
        for name, labels, other in (("y_img", y_img, y_txt), ("y_txt", y_txt, y_img)):
            missing = np.setdiff1d(np.unique(labels), np.unique(other))
            if missing.size:
                raise ValueError(
                    f"classes {missing.tolist()} occur in {name} only: class-matched training draws "
                    "images and texts of the same class, so every class needs items in both modalities."
                )
        self.classes_ = classes
        return np.searchsorted(classes, y_img), np.searchsorted(classes, y_txt)

    def _training_set(self, X_img, X_txt, y, seed):
        """``(X, y)`` given to ``net.fit`` and the targets given to ``_build_module``."""
        X_img, X_txt = _as_float32(X_img, "X_img"), _as_float32(X_txt, "X_txt")
        if self._allows_unpaired:
            codes_img, codes_txt = self._class_codes(y)
            dataset = ClassMatchedDataset(X_img, X_txt, codes_img, codes_txt, seed)
            return (dataset, None), dataset.codes
        targets = self._targets(y, X_img.shape[0])
        return ({"image": X_img, "text": X_txt}, targets), targets

    def _make_net(self, module, criterion, seed, n_samples, *, max_epochs=None, lr=None, batch_size=None, stage=None):
        """A skorch net with the estimator's settings; a stage may override epochs, lr and batch size."""
        max_epochs = self.max_epochs if max_epochs is None else max_epochs
        lr = self.lr if lr is None else lr
        batch_size = self.batch_size if batch_size is None else batch_size
        optimizer = _OPTIMIZERS.get(self.optimizer, self.optimizer)
        params = {
            **self._default_optimizer_params(),
            "weight_decay": self.weight_decay,
            **(self.optimizer_params or {}),
        }
        train_split = None
        if self.validation_fraction is not None:
            train_split = ValidSplit(self.validation_fraction, stratified=False, random_state=seed)
        steps_per_epoch = max(1, -(-n_samples // batch_size))
        callbacks = copy.deepcopy(  # copies: fitting never changes the callbacks the user passed in
            self._fixed_callbacks()
            + (self._default_callbacks(steps_per_epoch) if self.callbacks is None else self.callbacks)
        )
        self._check_monitors(callbacks)
        if self.verbose == 1:
            desc = type(self).__name__ if stage is None else f"{type(self).__name__} ({stage})"
            callbacks.append(("progress_bar", EpochProgressBar(desc)))
        policy = getattr(self, "_thread_policy", None)
        if policy is not None:
            callbacks.append(("cpu_threads", ReviseThreads(policy)))
        return CrossModalNet(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            iterator_train__shuffle=True,
            # a last batch of one item cannot be trained with BatchNorm (or a batch covariance)
            iterator_train__drop_last=n_samples % batch_size == 1 and n_samples > batch_size,
            train_split=train_split,
            callbacks=callbacks,
            device=self.device_,
            verbose=int(self.verbose >= 2),  # skorch's epoch table only when asked for
            **{f"optimizer__{key}": value for key, value in params.items()},
        )

    def _start_training(self):
        """Resolve the device and seed torch from ``random_state``; return the seed for the stages.

        Called inside :meth:`_validate_and_fit`'s forked random state, so
        seeding here never touches the caller's global torch generator.
        """
        self.device_ = resolve_device(self.device)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        torch.manual_seed(seed)
        return seed

    def _own_torch_rng(self):
        """Fork torch's global random state (CPU, and the GPU trained on) for the duration of a fit."""
        device = torch.device(resolve_device(self.device))
        devices = []
        if device.type == "cuda":
            devices = [device.index if device.index is not None else torch.cuda.current_device()]
        return torch.random.fork_rng(devices=devices)

    @contextlib.contextmanager
    def _cpu_threads(self):
        """Run a fit with the engine's thread policy (``skcross.utils._threads``); record it in ``fit_threads_``.

        ``SKCROSS_TORCH_THREADS=N`` fixes every fit at N threads instead (no
        adaptation to other processes' load).
        """
        with ThreadPolicy.from_environment() as policy:
            self._thread_policy = policy
            try:
                yield
            finally:
                del self._thread_policy
                self.fit_threads_ = policy.history

    def _validate_and_fit(self, X_img, X_txt, y, fit_params):
        with self._own_torch_rng(), self._cpu_threads():
            return super()._validate_and_fit(X_img, X_txt, y, fit_params)

    def _fit(self, X_img, X_txt, y):
        seed = self._start_training()
        (X, y_net), targets = self._training_set(X_img, X_txt, y, seed)
        self._target_shape = targets.shape[1:]
        module = self._build_module(X_img.shape[1], X_txt.shape[1], targets)
        criterion = self._build_criterion()
        self._prepare_criterion(module, criterion, X)
        self.net_ = self._train_stage(module, criterion, X, y_net, seed, len(targets),
                                      probe=self._collapse_probe(X_img, X_txt, seed), loss_targets=targets)
        self.n_epochs_ = len(self.net_.history)
        self._finish_fit(X_img, X_txt)

    def _prepare_criterion(self, module, criterion, X):
        """Set the criterion's state from the untrained module and the training set ``X``; nothing by default."""

    def _finish_fit(self, X_img, X_txt):
        """Work after the network is trained (e.g. DCCA's final linear CCA); nothing by default."""

    _supports_partial_fit = True
    __metadata_request__partial_fit = {"X_img": metadata_routing.UNUSED, "X_txt": metadata_routing.UNUSED}

    @available_if(lambda self: self._supports_partial_fit)
    def partial_fit(self, X_img, X_txt=None, y=None):
        """Train ``max_epochs`` more epochs on the given data, continuing from the fitted network.

        skorch's ``partial_fit``: the network, its optimizer state and its
        history carry over (``net_.history`` keeps every epoch, ``n_epochs_``
        counts them all). An estimator not yet fitted is fitted from scratch.
        The data must have the fitted feature widths and the fitted classes.
        Like ``fit``, it is atomic: if training fails, the previous network
        is kept unchanged.

        Parameters
        ----------
        X_img : {array-like, sparse matrix} of shape (n_samples, n_features_image) or PairedData
            Image features, or the pairs (then the second argument is ``y``).
        X_txt : {array-like, sparse matrix} of shape (n_samples, n_features_text), default=None
            Text features.
        y : array-like or tuple, default=None
            Labels, as in ``fit``.

        Returns
        -------
        self : object
            The estimator, trained further.
        """
        if not hasattr(self, "net_"):
            return self.fit(X_img, X_txt, y)
        X_img, X_txt, y = self._validate_training_data(X_img, X_txt, y, method="partial_fit", reset=False)
        with self._restored_on_failure(), self._own_torch_rng(), self._cpu_threads():
            seed = self._start_training()
            classes = getattr(self, "classes_", None)
            (X, y_net), targets = self._training_set(X_img, X_txt, y, seed)
            if targets.shape[1:] != self._target_shape or (
                classes is not None and not np.array_equal(classes, self.classes_)
            ):
                raise ValueError(
                    "partial_fit needs the labels seen in fit: classes "
                    f"{classes.tolist() if classes is not None else self._target_shape} were fitted."
                )
            net = copy.deepcopy(self.net_)  # trained on a copy, so a failure leaves net_ as it was
            net.module_.train()
            net.partial_fit(X, y_net)
            net.module_.eval()
            self.net_ = net
            self.n_epochs_ = len(net.history)
            self._finish_fit(X_img, X_txt)
        return self

    def _train_stage(self, module, criterion, X, y, seed, n_samples, *, probe=None, loss_targets=None, **stage_params):
        """Train ``module`` with ``criterion`` on ``(X, y)`` through a new skorch net; return the net.

        A method with several stages calls this once per stage, in order;
        ``stage_params`` (``stage``, ``max_epochs``, ``lr``, ``batch_size``)
        override the estimator's for that stage. ``probe`` (training rows of
        each modality, as the module takes them) and ``loss_targets`` (the
        targets of the stage's loss) feed the collapse guard
        (:meth:`_warn_if_collapsed`).
        """
        if n_samples < 2:  # a batch of one: batch normalisation and every pairwise loss are undefined
            raise ValueError(f"{type(self).__name__} needs at least 2 training pairs, got n_samples={n_samples}.")
        net = self._make_net(module, criterion, seed, n_samples, **stage_params)
        net.fit(X, y)
        net.module_.eval()
        self._warn_if_collapsed(net, stage_params.get("stage"), probe, loss_targets)
        return net

    def _collapse_probe(self, X_img, X_txt, seed):
        """Up to 512 training rows of each modality (seeded draw), float32, for the collapse guard."""
        rng = np.random.default_rng(seed)
        rows = [np.sort(rng.choice(X.shape[0], size=min(X.shape[0], _PROBE_ROWS), replace=False)) for X in (X_img, X_txt)]
        return _as_float32(X_img[rows[0]]), _as_float32(X_txt[rows[1]])

    def _warn_if_collapsed(self, net, stage, probe, loss_targets):
        """``ConvergenceWarning`` when a stage ended collapsed: a modality's embeddings, or the loss.

        A modality has collapsed when the spread of its embeddings of the
        ``probe`` rows (root mean squared distance to their mean) is below 1 %
        of their mean norm: every item then maps to nearly the same point, and
        retrieval from or to that modality is a query-independent ranking. The
        loss has collapsed when its last training value lies within 2 % of the
        value the criterion declares for a model that ignores its input
        (``criterion.collapsed_loss(loss_targets)``, e.g. ``alpha + beta`` for
        a triplet loss, ``ln 2`` for a balanced binary cross-entropy).
        """
        where = f"{type(self).__name__} ({stage or 'training'})"
        module = net.module_
        if probe is not None:
            for modality, X in zip(("image", "text"), probe):
                if len(X) < 2 or not hasattr(module, f"embed_{modality}"):
                    continue
                ratio = _relative_spread(self._embed(X, f"embed_{modality}", net))
                if ratio < _COLLAPSED_SPREAD:
                    identical = not np.ptp(X, axis=0).any()
                    cause = (
                        f"the training {modality} rows are identical"
                        if identical
                        else f"check the {modality} features for a tiny scale or constant columns (standardise "
                        f"them, e.g. ModalityTransformer({modality}=StandardScaler())), or change lr or max_epochs"
                    )
                    warnings.warn(
                        f"{where}: the {modality} embeddings of the training rows have collapsed (their spread is "
                        f"{ratio:.2g} of their mean norm): every {modality} maps to nearly the same point, so "
                        f"retrieval with {modality}s on either side does not depend on the {modality}; {cause}.",
                        ConvergenceWarning,
                        stacklevel=3,
                    )
        collapsed = getattr(net.criterion_, "collapsed_loss", None)
        losses = [row.get("train_loss") for row in net.history] if len(net.history) else []
        if collapsed is None or not losses or losses[-1] is None:
            return
        value, final = collapsed(loss_targets), losses[-1]
        if abs(final - value) <= _COLLAPSED_LOSS_RTOL * abs(value):
            warnings.warn(
                f"{where}: the training loss ended at {final:.4g}, the value it takes when the model ignores its "
                f"input ({value:.4g}): this stage learned nothing. Check the features' scale (standardise them "
                "unless the estimator does), or train this stage longer or with another lr.",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _train_on_sample_rounds(self, module, criterion, rounds, seed, n_items, *, probe=None):
        """Train one network on successive sample sets drawn by the method's own sampler; return the net.

        ``rounds`` yields a ``torch.utils.data.Dataset`` per round (e.g.
        SSPE's graph samples), each drawn when the previous round is done;
        the first round initialises the net (``fit``), the next ones continue
        it (``partial_fit``), so weights, optimizer state, callbacks and
        history run on. Each round trains ``max_epochs`` passes; a round
        stopped early (Ctrl-C, ``EarlyStopping``) ends the training.
        """
        net = self._make_net(module, criterion, seed, n_items, stage="sampling rounds")
        for k, dataset in enumerate(rounds):
            before = len(net.history) if k else 0
            if k == 0:
                net.fit(dataset, None)
            else:
                net.partial_fit(dataset, None)
            if len(net.history) - before < net.max_epochs:
                break  # stopped early (KeyboardInterrupt, EarlyStopping): training ends, as in skorch
        net.module_.eval()
        self._warn_if_collapsed(net, "sampling rounds", probe, None)
        return net

    def _check_monitors(self, callbacks):
        """A callback that monitors a validation score needs a validation split (skorch's KeyError otherwise)."""
        if self.validation_fraction is not None:
            return
        for callback in callbacks or []:
            callback = callback[1] if isinstance(callback, tuple) else callback
            monitor = getattr(callback, "monitor", None)
            if isinstance(monitor, str) and monitor.startswith("valid"):
                raise ValueError(
                    f"callback {type(callback).__name__} monitors {monitor!r}, which skorch records only on a "
                    "validation split, but validation_fraction=None: set validation_fraction (e.g. 0.1) or "
                    "monitor a training score such as 'train_loss'."
                )

    def _embed(self, X, which, net=None):
        """Batched inference of ``getattr(net.module_, which)`` (``net_`` by default) on ``X``."""
        net = self.net_ if net is None else net
        module = net.module_
        module.eval()
        X_dtype = X.dtype  # the network computes in float32; the output keeps the input's precision
        X = _as_float32(X, "X_img" if "image" in which else "X_txt")
        step = _INFERENCE_BATCH if X.ndim == 2 else self.batch_size  # raw images are large
        out = []
        with torch.no_grad():
            for start in range(0, X.shape[0], step):
                batch = torch.as_tensor(X[start : start + step], device=net.device)
                out.append(getattr(module, which)(batch).cpu().numpy())
        Z = np.concatenate(out).astype(X_dtype, copy=False)
        if not np.isfinite(Z).all():
            raise FloatingPointError(f"{type(self).__name__} produced non-finite embeddings.")
        return Z

    def _transform_image(self, X_img):
        return self._embed(X_img, "embed_image")

    def _transform_text(self, X_txt):
        return self._embed(X_txt, "embed_text")


def _is_out_of_memory(exc):
    """Whether ``exc`` is torch's (CUDA or CPU) out-of-memory failure."""
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    message = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in message or "can't allocate memory" in message)


def _relative_spread(Z):
    """Root mean squared distance of the rows of ``Z`` to their mean, over their mean norm (0 when all are 0)."""
    Z = Z.astype(np.float64, copy=False)
    spread = np.sqrt(((Z - Z.mean(axis=0)) ** 2).sum(axis=1).mean())
    scale = np.linalg.norm(Z, axis=1).mean()
    return float(spread / scale) if scale > 0 else 0.0


def _as_float32(X, name=None):
    """``X`` as a contiguous float32 array (the networks' precision); with ``name``, refused if it overflows."""
    X = X.toarray() if hasattr(X, "toarray") else X
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    if name is not None and not np.isfinite(X32).all():  # finite float64 values beyond float32's range
        raise ValueError(f"{name} holds values beyond float32's range (about ±3.4e38), in which the networks "
                         f"compute; rescale {name}.")
    return X32
