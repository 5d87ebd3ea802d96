"""Deep methods trained through one skorch engine (needs the ``deep`` extra: torch, skorch)."""

from ._dcca import DCCA
from ._dscmr import DSCMR
from ._dse import DSE
from ._engine import ClassMatchedDataset, CrossModalNet, DeepCrossModalMixin, resolve_device

__all__ = ["DCCA", "DSCMR", "DSE", "ClassMatchedDataset", "CrossModalNet", "DeepCrossModalMixin", "resolve_device"]
