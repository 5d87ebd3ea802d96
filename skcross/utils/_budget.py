"""Short training budgets: the settings that make a deep estimator's default training a smoke run.

Used by the benchmark's ``--quick`` and by tests; counted in optimizer steps,
not epochs, so a small dataset still gets a meaningful number of updates.
"""

import math

__all__ = ["few_iterations_params"]


def few_iterations_params(estimator, n_samples, iterations=200):
    """Parameters that make a deep estimator's default training short but meaningful.

    Every parameter keeps its default except: ``verbose=0``,
    ``random_state=0``, and, for deep estimators, ``max_epochs`` such that
    each training stage runs about ``iterations`` optimizer steps on
    ``n_samples`` training rows (at least 2 epochs); UNCSM's metric network
    gets 20,000 pairs and the same number of steps. A fixed, small number of
    epochs would mean 8 steps on a 400-pair dataset and only 2 on a 60-pair
    one: too few for any method to leave chance.

    Parameters
    ----------
    estimator : estimator instance
        The estimator (its defaults are read, not changed).
    n_samples : int
        Number of training rows.
    iterations : int, default=200
        Optimizer steps per training stage.

    Returns
    -------
    params : dict
        Arguments for ``estimator.set_params``.

    Examples
    --------
    >>> from skcross.linear import CCA
    >>> from skcross.utils._budget import few_iterations_params
    >>> few_iterations_params(CCA(), 1000)
    {}
    """
    defaults = estimator.get_params()
    params = {key: value for key, value in {"verbose": 0, "random_state": 0}.items() if key in defaults}
    if "n_batches_per_round" in defaults:  # SSPE: the steps are spread over its sampling rounds
        params["n_batches_per_round"] = max(1, math.ceil(iterations / defaults["n_rounds"]))
    elif "max_epochs" in defaults:
        steps_per_epoch = max(1, math.ceil(n_samples / defaults["batch_size"]))
        params["max_epochs"] = max(2, math.ceil(iterations / steps_per_epoch))
    if "n_metric_pairs" in defaults:
        pairs, batch = 20_000, 1000
        params["n_metric_pairs"] = pairs
        params["stage_params"] = {"metric": {"max_epochs": max(2, math.ceil(iterations * batch / pairs)), "batch_size": batch}}
    return params
