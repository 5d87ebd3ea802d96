"""Helpers of the test suite and the benchmark scripts (not public API); the library never imports them."""

from ._budget import few_iterations_params  # noqa: F401  (the tests' and scripts' short budgets)

# Fast constructor arguments per estimator, for the common checks (skcross's on 60 pairs, 12 + 8
# features, and scikit-learn's).
FAST_PARAMS = {
    "CCA": {"n_components": 2},
    "PLS": {"n_components": 2},
    "KCCA": {"n_components": 2, "nystroem_components": 30, "random_state": 0},
    "SCM": {"n_components": 2},
    "SM": {},
    "MLCCA": {"n_components": 2},
    "GMLDA": {"n_components": 2},
    "GMMFA": {"n_components": 2, "n_neighbors": 5, "n_margin_pairs": 20},
    "SSMAL": {"n_references": 5, "random_state": 0},
    # deep methods (discovered only when torch and skorch are installed)
    "ContrastiveTwoTower": {"n_components": 8, "hidden_layer_sizes": (16,), "max_epochs": 2, "batch_size": 16,
                            "verbose": 0, "random_state": 0},
    "DSCMR": {"hidden_size": 16, "n_components": 8, "max_epochs": 2, "lr": 1e-3, "verbose": 0, "random_state": 0},
    "DSE": {"n_components": 8, "max_epochs": 2, "batch_size": 16, "verbose": 0, "random_state": 0},
    "UNCSM": {"max_epochs": 2, "batch_size": 30, "n_metric_pairs": 200, "stage_params": {"metric": {"batch_size": 50}},
              "verbose": 0, "random_state": 0},
    "DCCA": {"n_components": 2, "layer_sizes": (8,), "max_epochs": 2, "batch_size": 30, "verbose": 0, "random_state": 0},
    "SSPE": {"n_components": 8, "hidden_sizes": (16,), "n_rounds": 2, "n_batches_per_round": None, "verbose": 0,
             "random_state": 0},
}
