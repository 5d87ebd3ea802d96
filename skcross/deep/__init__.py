"""Deep methods trained through one skorch engine (needs the ``deep`` extra: torch, skorch)."""

from ._dcca import DCCA
from ._dscmr import DSCMR
from ._engine import CrossModalNet, DeepCrossModalMixin, resolve_device

__all__ = ["DCCA", "DSCMR", "CrossModalNet", "DeepCrossModalMixin", "resolve_device"]
