"""Deep methods trained through one skorch engine (needs the ``deep`` extra: torch, skorch)."""

from ._contrastive import ContrastiveTwoTower
from ._dcca import DCCA
from ._dscmr import DSCMR
from ._dse import DSE
from ._callbacks import EpochProgressBar
from ._datasets import ClassMatchedDataset
from ._engine import CrossModalNet, DeepCrossModalMixin, resolve_device
from ._sspe import SSPE
from ._uncsm import UNCSM

__all__ = ["ContrastiveTwoTower", "DCCA", "DSCMR", "DSE", "SSPE", "UNCSM", "ClassMatchedDataset", "CrossModalNet", "DeepCrossModalMixin",
           "EpochProgressBar", "resolve_device"]
