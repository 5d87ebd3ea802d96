"""skorch callbacks of the deep methods: the progress bar, SSPE's step decay, DSE's training accuracy, the CPU threads."""

import numpy as np
from skorch.callbacks import Callback

__all__ = ["EpochProgressBar", "ReviseThreads", "StepDecayPerBatches", "TrainAccuracy"]


class EpochProgressBar(Callback):
    """One compact progress bar per training run: epochs done, with the last training loss.

    The default display of skcross's deep estimators (``verbose=1``); skorch's
    epoch table (one printed row per epoch) is ``verbose=2``. The bar is drawn
    by tqdm (a dependency of skorch) on standard error and removed when
    training ends, so a long benchmark stays readable.

    Parameters
    ----------
    desc : str, default="training"
        Text in front of the bar (e.g. the estimator and its stage).

    Examples
    --------
    >>> from skcross.deep import EpochProgressBar
    >>> EpochProgressBar(desc="DSCMR").desc
    'DSCMR'
    """

    def __init__(self, desc="training"):
        self.desc = desc

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        from tqdm.auto import tqdm

        done = len(net.history)  # partial_fit continues the count
        self.bar_ = tqdm(total=done + net.max_epochs, initial=done, desc=self.desc, unit="epoch",
                         leave=False, dynamic_ncols=True)

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1].get("train_loss")
        if loss is not None:
            self.bar_.set_postfix_str(f"train_loss={loss:.4g}", refresh=False)
        self.bar_.update(1)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        bar = self.__dict__.pop("bar_", None)
        if bar is not None:
            bar.close()


class StepDecayPerBatches(Callback):
    """Multiply the learning rate by ``gamma`` every ``every`` training batches, across rounds.

    SSPE's schedule (lr x 0.95 every 2,000 batches). Unlike a scheduler
    restarted by each ``partial_fit``, the count of batches runs on over all
    of a fit's sampling rounds.
    """

    def __init__(self, every=2000, gamma=0.95):
        self.every, self.gamma = every, gamma

    def initialize(self):
        self.batches_ = 0
        self.base_lrs_ = None
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        if not training:
            return
        optimizer = net.optimizer_
        if self.base_lrs_ is None:
            self.base_lrs_ = [group["lr"] for group in optimizer.param_groups]
        self.batches_ += 1
        factor = self.gamma ** (self.batches_ // self.every)
        for group, base in zip(optimizer.param_groups, self.base_lrs_):
            group["lr"] = base * factor


class TrainAccuracy(Callback):
    """Records ``train_acc``, the classification accuracy over an epoch's training batches.

    The accuracy of each batch is measured by the loss as it trains (no
    extra pass over the data, no held-out data); DSE's learning-rate schedule
    and early stopping monitor it, as in the paper.
    """

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            net.history.record_batch("train_acc", net.criterion_.batch_accuracy_)

    def on_epoch_end(self, net, **kwargs):
        batches = [b for b in net.history[-1, "batches"] if "train_acc" in b]
        sizes = np.array([b["train_batch_size"] for b in batches], dtype=float)
        accuracies = np.array([b["train_acc"] for b in batches])
        net.history.record("train_acc", float(accuracies @ sizes / sizes.sum()))


class ReviseThreads(Callback):
    """Before each epoch, let the fit's thread policy re-read the machine's load (engine-internal).

    ``policy`` is the fit's :class:`skcross.utils._threads.ThreadPolicy`; it
    changes torch's threads only when at least 0.5 s have passed and the CPUs
    that other processes leave free changed.
    """

    def __init__(self, policy):
        self.policy = policy

    def on_epoch_begin(self, net, **kwargs):
        self.policy.revise()
