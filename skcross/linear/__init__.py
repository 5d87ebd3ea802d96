"""Closed-form linear baselines: each modality is projected on its own."""

from ._cca import CCA
from ._pls import PLS

__all__ = ["CCA", "PLS"]
