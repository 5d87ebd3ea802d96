"""Closed-form and shallow baselines: each modality is projected on its own."""

from ._cca import CCA
from ._gma import GMLDA, GMMFA
from ._kcca import KCCA
from ._mlcca import MLCCA
from ._pls import PLS
from ._scm import SCM, SM

__all__ = ["CCA", "GMLDA", "GMMFA", "KCCA", "MLCCA", "PLS", "SCM", "SM"]
