"""Faults injected into deep training at a chosen batch (shared by test_deep.py and test_cuda.py).

Imported only by test modules that have already checked that torch and skorch are installed.
"""

import torch
from skorch.callbacks import Callback


class AtBatch(Callback):
    """Run ``action(net)`` at the start of training batch number ``at`` (counted over the whole fit)."""

    def __init__(self, at, action):
        self.at, self.action = at, action

    def initialize(self):
        self.seen_ = 0
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        self.seen_ += training
        if training and self.seen_ == self.at:
            self.action(net)


def poison(net):
    """Every parameter becomes NaN (the next loss is NaN)."""
    with torch.no_grad():
        for parameter in net.module_.parameters():
            parameter.fill_(float("nan"))
