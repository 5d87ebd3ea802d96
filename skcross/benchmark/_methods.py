"""The methods the benchmark runs: their papers' defaults, supervision and CV grids."""

import functools
import importlib
from dataclasses import dataclass, field

from ..utils._budget import few_iterations_params

__all__ = ["METHODS", "Method", "available_methods"]


@dataclass(frozen=True)
class Method:
    """One benchmarked method: how to build it and how to describe it.

    Parameters
    ----------
    name : str
        Name used by ``--methods`` and in the tables.
    estimator : str
        ``"module:Class"`` of the estimator (imported when used, so that the
        deep methods need torch only when they run).
    paper : str
        Short reference of the method's paper.
    supervision : str
        What training uses: "pairs", "labels" or "few pairs" (SSM-AL).
    similarity : str
        What ranks the retrievals with the default settings.
    grid : dict
        Parameter grid for ``--select cv`` (searched on the training split).
    kind : {"baseline", "seed method", "modern baseline"}
        Whether skcross implements it as a baseline or as one of its methods.
    params : dict
        Constructor arguments that make this benchmark row (e.g. the
        supervised reading of an estimator); empty for its defaults.
    """

    name: str
    estimator: str
    paper: str
    supervision: str
    similarity: str
    grid: dict = field(default_factory=dict)
    kind: str = "baseline"
    params: dict = field(default_factory=dict)

    @property
    def deep(self):
        return self.estimator.startswith("skcross.deep")

    @functools.cached_property
    def _declared(self):
        """One unfitted instance of this row's estimator, read once for what it declares."""
        return self.estimator_class()(**self.params)

    @property
    def randomized(self):
        """Whether the estimator has a ``random_state`` (otherwise every seed gives the same model)."""
        return "random_state" in self._declared.get_params()

    @property
    def requires_labels(self):
        """Whether the method trains on labels (its estimator's ``target_tags.required``)."""
        return self._declared.__sklearn_tags__().target_tags.required

    def estimator_class(self):
        module, _, cls = self.estimator.partition(":")
        return getattr(importlib.import_module(module), cls)

    def build(self, *, random_state=0, device="auto", verbose=0, quick=False, n_train=None):
        """The estimator with its paper's defaults, seeded; ``quick`` shortens training.

        ``quick`` gives deep methods about 50 optimizer steps per training
        stage (:func:`~skcross.utils._budget.few_iterations_params`) and
        KCCA 200 Nystroem components; every other setting stays the default.
        """
        estimator = self.estimator_class()(**self.params)
        defaults = estimator.get_params()
        params = {"random_state": random_state, "device": device, "verbose": verbose}
        params = {key: value for key, value in params.items() if key in defaults}
        if quick:
            params = {**quick_params(estimator, n_train), **params}
        return estimator.set_params(**params)


def quick_params(estimator, n_train):
    """Settings ``--quick`` changes for ``estimator`` (what the run prints it shortened)."""
    defaults = estimator.get_params()
    params = {}
    if "nystroem_components" in defaults:
        params["nystroem_components"] = 200
    if "max_epochs" in defaults:
        params.update(few_iterations_params(estimator, n_train, iterations=50))
        del params["verbose"], params["random_state"]  # the run's own settings stay
        if "n_metric_pairs" in defaults:
            params["n_metric_pairs"] = 5000
    return params


_LINEAR = "skcross.linear"
METHODS = {
    method.name: method
    for method in [
        Method("CCA", f"{_LINEAR}:CCA", "Hotelling 1936; Rasiwasia et al. 2010 (CM)", "pairs", "cosine",
               {"n_components": [10, 64, 128], "reg": [1e-3, 1e-1, 1.0]}),
        Method("PLS", f"{_LINEAR}:PLS", "Rosipal & Kraemer 2006 (PLS-SVD)", "pairs", "cosine",
               {"n_components": [5, 10, 20, 64]}),
        Method("KCCA", f"{_LINEAR}:KCCA", "Hardoon et al. 2004", "pairs", "cosine",
               {"reg": [0.3, 3.0, 30.0]}),
        Method("SM", f"{_LINEAR}:SM", "Rasiwasia et al. 2010", "labels", "normalised correlation",
               {"C": [0.1, 1.0, 10.0]}),
        Method("SCM", f"{_LINEAR}:SCM", "Rasiwasia et al. 2010", "labels", "normalised correlation",
               {"C": [0.1, 1.0, 10.0]}),
        Method("GMLDA", f"{_LINEAR}:GMLDA", "Sharma et al. 2012", "labels", "cosine",
               {"alpha": [1.0, 10.0, 100.0]}),
        Method("GMMFA", f"{_LINEAR}:GMMFA", "Sharma et al. 2012", "labels", "cosine",
               {"alpha": [1.0, 10.0, 100.0]}),
        Method("ml-CCA", f"{_LINEAR}:MLCCA", "Ranjan et al. 2015", "labels", "cosine",
               {"reg": [0.05, 0.25, 1.0]}),
        Method("DCCA", "skcross.deep:DCCA", "Andrew et al. 2013", "pairs", "cosine",
               {"reg": [1e-2, 1.0], "cca_reg": [1e-3, 1.0]}),
        Method("SSM-AL", "skcross.reference:SSMAL", "SSM-AL seed paper", "few pairs (50, by an oracle)",
               "Pearson", {"reference_modality": ["text", "image"]}, kind="seed method"),
        Method("DSE", "skcross.deep:DSE", "DSE seed paper", "labels", "cosine",
               {"lam": [0.01, 0.1, 1.0]}, kind="seed method"),
        Method("DSCMR", "skcross.deep:DSCMR", "Zhen et al., CVPR 2019", "labels", "cosine",
               {"max_epochs": [100, 500]}, kind="seed method"),
        Method("UNCSM", "skcross.deep:UNCSM", "Qi, Huang and Peng (UNCSM)", "labels", "metric network",
               {"margin": [0.5, 1.0, 2.0]}, kind="seed method"),
        Method("SSPE", "skcross.deep:SSPE", "Wu, Wang and Huang, ACM MM 2018", "labels", "cosine",
               {"max_epochs": [1, 4, 16]}, kind="seed method"),
        Method("Contrastive", "skcross.deep:ContrastiveTwoTower",
               "CLIP / LiT InfoNCE on frozen features (Radford et al. 2021; Zhai et al. 2022)", "pairs", "cosine",
               {"max_epochs": [5, 15, 30]}, kind="modern baseline"),
        Method("Contrastive-labels", "skcross.deep:ContrastiveTwoTower",
               "supervised contrastive reading (Khosla et al. 2020): same class = positive", "labels", "cosine",
               {"max_epochs": [5, 15, 30]}, kind="modern baseline", params={"supervision": "labels"}),
    ]
}


def available_methods():
    """Names of the methods whose dependencies are installed (deep ones need torch and skorch)."""
    names = []
    for name, method in METHODS.items():
        try:
            method.estimator_class()
        except ImportError:
            continue
        names.append(name)
    return names
