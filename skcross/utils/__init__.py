"""Utilities: estimator discovery and the project's estimator checks."""

import importlib
import inspect
import pkgutil

__all__ = ["all_estimators"]


def all_estimators():
    """Every public cross-modal estimator class of skcross, sorted by name.

    Modules whose optional dependencies are missing are skipped.

    Returns
    -------
    estimators : list of (str, type)
        ``(name, class)`` pairs.

    Examples
    --------
    >>> from skcross.utils import all_estimators
    >>> estimators = dict(all_estimators())
    >>> estimators["CCA"]
    <class 'skcross.linear._cca.CCA'>
    """
    from sklearn.base import BaseEstimator

    import skcross

    found = {}
    for module_info in pkgutil.walk_packages(skcross.__path__, "skcross."):
        if any(part.startswith("_") for part in module_info.name.split(".")[1:]) or ".tests" in module_info.name:
            continue
        try:
            module = importlib.import_module(module_info.name)
        except ImportError:
            continue
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseEstimator) and not name.startswith("_") and _is_cross_modal(cls):
                found[name] = cls
    return sorted(found.items())


def _is_cross_modal(cls):
    """Whether ``cls`` has the cross-modal estimator contract (the methods every skcross estimator has)."""
    return all(callable(getattr(cls, method, None))
               for method in ("fit", "transform_image", "transform_text", "similarity", "_ranks_by_cosine"))
