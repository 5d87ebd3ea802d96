"""Pretrained encoders as scikit-learn transformers: raw images and sentences -> features.

:class:`ImageEncoder` runs an image network (a timm model by name, or any
``torch.nn.Module``: a torchvision model, your own) and :class:`TextEncoder` a
sentence-transformers model. Both are stateless transformers in scikit-learn's
sense: ``fit`` loads and checks the model and records the output width;
``transform`` encodes in batches, deterministically, and returns float32.
They need the ``encoders`` extra (``pip install "skcross[encoders]"``: torch,
timm, sentence-transformers, Pillow), imported only when an encoder is fitted.
"""

import collections
import copy
import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .utils._device import resolve_device
from .utils._feature_cache import FeatureCache, content_key, file_key
from .utils._threads import ThreadPolicy

__all__ = ["ImageEncoder", "TextEncoder", "encode_dataset"]

# The preprocessing a model without its own configuration gets: torchvision's
# ImageNet evaluation transform (resize the shorter side to 256, centre-crop 224).
IMAGENET_PREPROCESS = {
    "input_size": (224, 224),
    "crop_pct": 0.875,
    "interpolation": "bilinear",
    "mean": (0.485, 0.456, 0.406),
    "std": (0.229, 0.224, 0.225),
}
_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos")
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_N_NAMED = 5  # how many offending items an error message names
_PROGRESS_FROM = 1024  # progress_bar=None shows a bar from this many inputs on
_CHUNK_BATCHES = 16  # batches per cache shard: what an interruption can lose, and a Dask partition's size
_PREFETCH = 2  # image batches decoded ahead of the network


def _require(module, purpose):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{purpose} needs the '{module}' package ({exc}); install the encoders extra: "
            "pip install 'skcross[encoders]'."
        ) from None


def _first_few(items):
    shown = ", ".join(str(item) for item in items[:_N_NAMED])
    return shown + (f" (and {len(items) - _N_NAMED} more)" if len(items) > _N_NAMED else "")


def _progress(iterable, total, enabled, desc):
    if not enabled:
        return iterable
    tqdm = _require("tqdm", "progress_bar=True").tqdm
    return tqdm(iterable, total=total, desc=desc, unit="chunk")


def _show_progress(progress_bar, n_items):
    if progress_bar not in (None, True, False):
        raise ValueError(f"progress_bar must be True, False or None (automatic), got {progress_bar!r}.")
    return n_items >= _PROGRESS_FROM if progress_bar is None else progress_bar


class _PretrainedEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """What both encoders share: output names, input tags, cloning and pickling of the network."""

    @property
    def _n_features_out(self):
        return self.n_features_out_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    def _check_shared_params(self):
        batch_size = self.batch_size
        if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        _show_progress(self.progress_bar, 0)
        if self.cache is not None and not isinstance(self.cache, (str, os.PathLike)):
            raise TypeError(f"cache must be a folder path (str or path-like) or None, got {type(self.cache).__name__}.")
        if self.cache is not None and Path(self.cache).expanduser().exists() and not Path(self.cache).expanduser().is_dir():
            raise ValueError(f"cache={str(self.cache)!r} is a file; give a folder (it is created when missing).")

    def _versions(self):
        import importlib.metadata

        from . import __version__

        versions = {"skcross": __version__}
        for package in ("torch", "timm", "sentence-transformers", "transformers", "Pillow"):
            try:
                versions[package] = importlib.metadata.version(package)
            except importlib.metadata.PackageNotFoundError:
                pass
        return versions

    def _encode_unique(self, items, keys, client=None):
        """Features of ``items``: each distinct key encoded once, read from and written to the cache.

        Missing items are encoded in chunks of ``_CHUNK_BATCHES`` batches, in the
        order of their first appearance, each chunk stored as soon as it is done,
        so that a run interrupted and started again encodes the same batches and
        ends with the same features. With a Dask ``client``, the chunks are the
        partitions sent to the workers.
        """
        first = {}
        for i, key in enumerate(keys):
            first.setdefault(key, i)
        cache = FeatureCache(self.cache, self.identity_) if self.cache is not None else None
        found = cache.lookup(list(first)) if cache is not None else {}
        missing = [key for key in first if key not in found]
        size = self.batch_size * _CHUNK_BATCHES
        chunks = [missing[i:i + size] for i in range(0, len(missing), size)]
        self._last_counts = {"distinct": len(first), "encoded": len(missing)}  # the last call's, for encode_dataset
        show = _show_progress(self.progress_bar, len(missing))
        for chunk_keys, features in _progress(self._encode_chunks(items, first, chunks, client), len(chunks), show,
                                              self._inputs):
            if cache is not None:
                cache.store(chunk_keys, features)
            found.update(zip(chunk_keys, features))
        width = len(next(iter(found.values())))
        out = np.empty((len(keys), width), dtype=np.float32)
        for i, key in enumerate(keys):
            out[i] = found[key]
        return out

    def _encode_chunks(self, items, first, chunks, client):
        """``(keys, features)`` of each chunk: here, in order, or on a Dask cluster as they finish."""
        if client is None:
            for chunk in chunks:
                yield chunk, self._encode_items([items[first[key]] for key in chunk])
            return
        if not chunks:
            return
        distributed = _require("distributed", "client=")
        remote = client.scatter(self, broadcast=True)  # each worker unpickles the network once
        futures = {client.submit(_encode_on_worker, remote, [items[first[key]] for key in chunk], pure=False): chunk
                   for chunk in chunks}
        for future in distributed.as_completed(futures):
            yield futures[future], future.result()

    def __sklearn_clone__(self):
        # a model object passed as a parameter is shared, not deep-copied once per grid-search
        # candidate: fit copies it before changing it (evaluation mode, device)
        return type(self)(**self.get_params(deep=False))

    def __getstate__(self):
        state = self.__dict__.copy()
        if "model_" in state:  # torch's own format, so that a CUDA-fitted encoder loads without a GPU
            import io

            import torch

            buffer = io.BytesIO()
            torch.save(state["model_"], buffer)
            state["model_"] = buffer.getvalue()
        return state

    def __setstate__(self, state):
        if isinstance(state.get("model_"), bytes):
            import io
            import warnings

            import torch

            device = state["device_"]
            if device.startswith("cuda") and not torch.cuda.is_available():
                warnings.warn(
                    f"{type(self).__name__} was fitted on {device!r}, which this machine lacks; it runs on 'cpu'.",
                    RuntimeWarning, stacklevel=2,
                )
                device = state["device_"] = "cpu"
            state["model_"] = torch.load(io.BytesIO(state["model_"]), map_location=device, weights_only=False)
        self.__dict__.update(state)


def _encode_on_worker(encoder, items):
    """A Dask task: one partition's features, with the encoder the worker already holds."""
    return encoder._encode_items(items)


# ----------------------------------------------------------------------------- images


def _check_preprocess(preprocess):
    """The ``preprocess`` override as a dict of known keys with valid values."""
    if preprocess is None:
        return {}
    if not isinstance(preprocess, dict):
        raise TypeError(
            f"preprocess must be a dict (keys {', '.join(IMAGENET_PREPROCESS)}) or None, got {type(preprocess).__name__}."
        )
    unknown = sorted(set(preprocess) - set(IMAGENET_PREPROCESS))
    if unknown:
        raise ValueError(f"preprocess has unknown key(s) {unknown}; the keys are {list(IMAGENET_PREPROCESS)}.")
    return dict(preprocess)


def _resolve_preprocess(config):
    """Validate a full preprocessing configuration and put it in one form."""
    size = config["input_size"]
    size = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)[-2:]
    if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size):
        raise ValueError(
            f"preprocess['input_size'] must be a positive int or (height, width) (or timm's (3, H, W)), "
            f"got {config['input_size']!r}."
        )
    crop_pct = config["crop_pct"]
    if not (isinstance(crop_pct, (int, float)) and 0 < crop_pct <= 1):
        raise ValueError(f"preprocess['crop_pct'] must be in (0, 1] (1 resizes without cropping), got {crop_pct!r}.")
    if config["interpolation"] not in _INTERPOLATIONS:
        raise ValueError(
            f"preprocess['interpolation'] must be one of {_INTERPOLATIONS}, got {config['interpolation']!r}."
        )
    for key in ("mean", "std"):
        value = np.asarray(config[key], dtype=float)
        if value.shape != (3,) or (key == "std" and np.any(value <= 0)):
            raise ValueError(f"preprocess[{key!r}] must be three numbers (per RGB channel){', > 0' if key == 'std' else ''}, got {config[key]!r}.")
    return {
        "input_size": (int(size[0]), int(size[1])),
        "crop_pct": float(crop_pct),
        "interpolation": config["interpolation"],
        "mean": tuple(float(v) for v in config["mean"]),
        "std": tuple(float(v) for v in config["std"]),
    }


def _to_rgb(image, where):
    """A PIL image as 8-bit RGB: grayscale, palette, alpha (dropped) and 16-bit images are converted."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(image)
        if values.min() < 0 or values.max() > 65535:
            raise ValueError(f"{where} is a {image.mode} image with values outside 0..65535; convert it to 8-bit RGB first.")
        Image = _require("PIL.Image", "ImageEncoder")
        return Image.fromarray(np.round(values / 257.0).astype(np.uint8)).convert("RGB")
    if image.mode == "F":
        raise ValueError(f"{where} is a floating-point (mode 'F') image; convert it to 8-bit RGB first.")
    return image.convert("RGB")


def _preprocess_image(image, config):
    """Resize the shorter side to input_size / crop_pct, centre-crop input_size, normalise: (3, H, W) float32.

    The same steps as timm's and torchvision's evaluation transforms (PIL's resampling).
    """
    Image = _require("PIL.Image", "ImageEncoder")
    height, width = config["input_size"]
    filters = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS}
    if config["crop_pct"] == 1.0 and height != width:
        scaled = (height, width)
    else:
        shorter = math.floor(max(height, width) / config["crop_pct"])
        w, h = image.size
        scaled = (shorter, int(shorter * w / h)) if h <= w else (int(shorter * h / w), shorter)
    if scaled != (image.size[1], image.size[0]):
        image = image.resize((scaled[1], scaled[0]), filters[config["interpolation"]])
    top = int(round((scaled[0] - height) / 2.0))
    left = int(round((scaled[1] - width) / 2.0))
    if (top, left) != (0, 0) or scaled != (height, width):
        image = image.crop((left, top, left + width, top + height))
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    pixels = (pixels - np.asarray(config["mean"], np.float32)) / np.asarray(config["std"], np.float32)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def _images(X):
    """``X`` as a list of images (paths, PIL images or (H, W, 3) uint8 arrays), every file checked to open."""
    Image = _require("PIL.Image", "ImageEncoder")
    if isinstance(X, (str, Path)) or isinstance(X, Image.Image):
        raise TypeError(
            f"X must be a sequence of images (a list of paths or PIL images, or a uint8 array (n, H, W, 3)), "
            f"got a single {type(X).__name__}; wrap it in a list."
        )
    if isinstance(X, np.ndarray) and X.dtype != object:
        if X.dtype.kind in "US":
            return _check_readable(list(X))
        if X.ndim != 4 or X.shape[-1] != 3:
            raise ValueError(
                f"an image array X must have shape (n_images, height, width, 3), got {X.shape}; "
                "pass grayscale as X[..., None].repeat(3, axis=-1)."
            )
        if X.dtype != np.uint8:
            raise ValueError(
                f"an image array X must be uint8 (0..255), got {X.dtype}; scale it first "
                "(e.g. 16-bit: (X // 257).astype(np.uint8)), or pass the image files."
            )
        if len(X) == 0:
            raise ValueError("X has no images.")
        return list(X)
    if hasattr(X, "tolist") and hasattr(X, "iloc"):
        X = X.tolist()  # a pandas Series of paths
    if not hasattr(X, "__len__") or isinstance(X, (dict, set, frozenset)):  # a dict would give its keys
        raise TypeError(f"X must be a sequence of images (a list of paths or PIL images, or a uint8 array), got "
                        f"{type(X).__name__}.")
    items = list(X)
    if not items:
        raise ValueError("X has no images.")
    wrong = [i for i, item in enumerate(items) if not isinstance(item, (str, Path, Image.Image))]
    if wrong:
        raise TypeError(
            f"X must hold image file paths or PIL images; item(s) {_first_few(wrong)} are "
            f"{type(items[wrong[0]]).__name__}. For pixels, pass one uint8 array (n, H, W, 3)."
        )
    return _check_readable(items)


def _check_readable(items):
    """Open the header of every image file (cheap) so that a bad path fails before any encoding; ``items``."""
    Image = _require("PIL.Image", "ImageEncoder")
    missing, unreadable = [], []
    for item in items:
        if isinstance(item, Image.Image):
            continue
        if os.path.isdir(item):
            unreadable.append(f"{item} (a directory, not an image file)")
            continue
        if not os.path.isfile(item):
            missing.append(str(item))
            continue
        try:
            with Image.open(item):
                pass
        except (OSError, ValueError) as exc:
            unreadable.append(f"{item} ({type(exc).__name__}: {exc})")
    if missing:
        raise FileNotFoundError(f"{len(missing)} image path(s) in X do not exist: {_first_few(missing)}.")
    if unreadable:
        raise ValueError(f"{len(unreadable)} file(s) in X are not readable images: {_first_few(unreadable)}.")
    return items


def _load_image(item, where):
    """One image (a path, a PIL image or an (H, W, 3) uint8 array) as a PIL RGB image."""
    Image = _require("PIL.Image", "ImageEncoder")
    if isinstance(item, np.ndarray):
        return Image.fromarray(item)
    if isinstance(item, Image.Image):
        return _to_rgb(item, where)
    try:
        with Image.open(item) as image:
            image.load()
            return _to_rgb(image, f"image file {item}")
    except OSError as exc:  # a file whose header reads but whose data does not (truncated, corrupt)
        raise ValueError(f"image file {item} ({where}) could not be decoded: {exc}.") from None


def _image_key(item):
    """What identifies an image's content: its file's bytes, or its pixels."""
    Image = _require("PIL.Image", "ImageEncoder")
    if isinstance(item, Image.Image):
        return content_key("pil", item.mode, str(item.size), item.tobytes())
    if isinstance(item, np.ndarray):
        return content_key("pixels", str(item.shape), np.ascontiguousarray(item).tobytes())
    return content_key("file", file_key(item))


def _state_sha256(network):
    """SHA-256 of a network's parameters and buffers (names, shapes, dtypes, bytes), whatever their source."""
    import hashlib

    torch = _require("torch", "the encoders")
    digest = hashlib.sha256()
    for name, tensor in network.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _weights_file(weights):
    """The state-dict file that ``weights`` (a file or a directory) names."""
    path = Path(weights)
    if path.is_dir():
        for name in _WEIGHT_FILES:
            if (path / name).is_file():
                return path / name
        found = sorted(p.name for p in path.iterdir() if p.suffix in (".safetensors", ".pth", ".pt", ".bin"))
        if len(found) == 1:
            return path / found[0]
        raise ValueError(
            f"weights={str(weights)!r} is a directory without {' or '.join(_WEIGHT_FILES)}"
            + (f" and with several weight files {found}; pass one file." if found else " nor any weight file.")
        )
    if not path.is_file():
        raise FileNotFoundError(f"weights={str(weights)!r}: no such file or directory.")
    return path


def _load_weights(network, weights, model_name):
    """Load a local state dict into ``network``; every key must match (names and shapes)."""
    torch = _require("torch", "ImageEncoder")
    path = _weights_file(weights)
    try:
        if path.suffix == ".safetensors":
            state = _require("safetensors.torch", "loading .safetensors weights").load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure is reported with the file named
        raise ValueError(f"weights={str(weights)!r}: {path.name} could not be read as a state dict ({exc}).") from None
    for key in ("state_dict", "model", "state_dict_ema"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
            break
    if not isinstance(state, dict):
        raise ValueError(f"weights={str(weights)!r} holds a {type(state).__name__}, not a state dict.")
    expected = network.state_dict()
    # BatchNorm's step counter carries no weights: torch's strict loading (and timm's) accept a checkpoint
    # without it, as converted or exported ones often are; every other missing key is refused
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or wrong_shape:
        parts = [
            f"{label} {_first_few(keys)}"
            for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", wrong_shape))
            if keys
        ]
        raise ValueError(
            f"weights={str(weights)!r} does not match {model_name}'s state dict: {'; '.join(parts)}. "
            "Keys must match by name and shape (strict loading); rename them to the model's keys "
            "(model.state_dict().keys()) and save the result."
        )
    network.load_state_dict(state, strict=True)


def _weights_kind(weights):
    """``"pretrained"``, ``"random"`` (None) or ``"path"``; anything else is refused."""
    if weights is None:
        return "random"
    if isinstance(weights, str) and weights == "pretrained":
        return "pretrained"
    if isinstance(weights, (str, os.PathLike)):
        return "path"
    raise TypeError(f"weights must be 'pretrained', None or a path, got {type(weights).__name__}.")


def _weights_sha256(weights):
    """SHA-256 of the weights file that ``weights`` names; None for 'pretrained' and None."""
    if weights is None or (isinstance(weights, str) and weights == "pretrained"):
        return None
    return file_key(_weights_file(weights))


def _last_linear(network):
    torch = _require("torch", "ImageEncoder")
    name = None
    for module_name, module in network.named_modules():
        if isinstance(module, torch.nn.Linear):
            name = module_name
    return name


def _pool(output, where):
    """(n, C, H, W) -> (n, C) by global average pooling; 2-D passes; anything else is refused."""
    if isinstance(output, (tuple, list)) and output:
        output = output[0]
    if not hasattr(output, "ndim"):
        raise ValueError(f"{where} returned a {type(output).__name__}, not a tensor; choose another layer.")
    if output.ndim == 4:
        output = output.mean(dim=(2, 3))
    elif output.ndim != 2:
        raise ValueError(
            f"{where} gives an output of shape {tuple(output.shape)}, which is not (n, features) nor "
            "(n, channels, H, W) to average over H and W; choose another layer (the names are in "
            "dict(model.named_modules()))."
        )
    return output


class ImageEncoder(_PretrainedEncoder):
    """Pretrained image network as a transformer: image files or pixels -> features.

    Parameters
    ----------
    model : str or torch.nn.Module, default="tf_efficientnet_lite0"
        A timm model name (``timm.list_models()``), or any network: a
        torchvision model, a timm model object or your own ``torch.nn.Module``
        (copied in ``fit``; the object you pass is not changed).
    weights : "pretrained", None or path-like, default="pretrained"
        For a model name: ``"pretrained"`` loads timm's pretrained weights as
        timm does (from its cache, else downloaded from the Hugging Face hub);
        a path to a weights file (``.safetensors``, ``.pth``, ``.bin``) or a
        directory holding ``model.safetensors`` or ``pytorch_model.bin`` loads
        that file with strict key matching (offline); None keeps timm's random
        initialisation. For a module: ``"pretrained"`` keeps its weights as
        passed; a path loads into it strictly.
    layer : str or None, default=None
        Where the features come from. None: a timm network's pooled pre-logits
        features (``forward_head(..., pre_logits=True)``); for any other module,
        the input of its last ``nn.Linear`` (the classifier of torchvision's
        networks), or its output when it has no ``nn.Linear``. A name from
        ``dict(model.named_modules())`` takes that submodule's output.
        Outputs of shape (n, C, H, W) are averaged over H and W.
    preprocess : dict or None, default=None
        Overrides of the preprocessing (keys ``input_size``, ``crop_pct``,
        ``interpolation``, ``mean``, ``std``). The rest comes from the timm
        model's pretrained configuration, or from torchvision's ImageNet
        evaluation transform for other modules: resize the shorter side to
        ``input_size / crop_pct``, centre-crop ``input_size``, scale to [0, 1]
        and normalise. ``crop_pct=1`` with a non-square ``input_size``
        resizes to it exactly.
    batch_size : int, default=8
        Images per forward pass. Features do not depend on it (to float32
        rounding). On a 2-core CPU with EfficientNet-Lite0, batches of 1 to 8
        were the fastest in two runs (32-39 images/s) and 32 or 128 slower
        (22-29 images/s, and 3.4 GB peak at 128;
        ``benchmarks/bench_encoders.py``); on a GPU a larger batch should pay
        (not measured here).
    device : str, default="auto"
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda[:N]"``.
    progress_bar : bool or None, default=None
        Show a tqdm bar over chunks of batches; None shows it from 1,024 images on.
    cache : str, path-like or None, default=None
        Folder of an on-disk feature cache. Features are stored under the
        content of each input (the file's bytes, or the pixels) and the encoder's identity
        (``identity_``: model, weights hash, layer, preprocessing, library
        versions), so a re-run, every fold and candidate of a grid search
        and the benchmark never encode the same input twice, and an
        interrupted ``transform`` resumes where it stopped (the result equals
        an uninterrupted run). None keeps nothing; repeated inputs of one
        call are encoded once either way.

    Attributes
    ----------
    model_ : torch.nn.Module
        The network in evaluation mode on ``device_``, kept as state (a pickle
        holds its weights, so unpickling needs neither timm's cache nor a
        network).
    preprocess_ : dict
        The full preprocessing configuration used.
    layer_ : str or None
        Where the features were taken: None for a timm network's pre-logits;
        otherwise the submodule name ("" is the whole network) whose input
        (``layer=None``: the last ``nn.Linear``) or output (a named ``layer``)
        gives them.
    n_features_out_ : int
        Width of the features.
    identity_ : dict
        What the features depend on: the model, its weights file's SHA-256
        (when a file was given) and the SHA-256 of the loaded network's
        parameters and buffers, the layer, the preprocessing and the library
        versions. The cache is keyed by it.
    device_ : str
        The torch device used.

    See Also
    --------
    TextEncoder : The same for sentences.
    skcross.preprocessing.ModalityTransformer : Put both in one pipeline step.

    Notes
    -----
    Images in any PIL mode are converted to 8-bit RGB as timm's and
    torchvision's loaders do (``convert("RGB")``): grayscale is replicated,
    palette images expanded, alpha dropped (not composited); 16-bit grayscale
    is scaled to 8 bits (divided by 257) first. Arrays must already be uint8
    RGB. The network runs in evaluation mode under ``torch.inference_mode``,
    so features are deterministic for a given device and batch.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skcross.feature_extraction import ImageEncoder
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU())
    >>> enc = ImageEncoder(net, preprocess={"input_size": 32}, device="cpu")
    >>> pixels = np.random.default_rng(0).integers(0, 256, (4, 48, 40, 3), dtype=np.uint8)
    >>> enc.fit_transform(pixels).shape, enc.get_feature_names_out()[:2].tolist()
    ((4, 8), ['imageencoder0', 'imageencoder1'])
    """

    _inputs = "images"  # what it encodes, as progress bars and encode_dataset name them

    def __init__(
        self,
        model="tf_efficientnet_lite0",
        *,
        weights="pretrained",
        layer=None,
        preprocess=None,
        batch_size=8,
        device="auto",
        progress_bar=None,
        cache=None,
    ):
        self.model = model
        self.weights = weights
        self.layer = layer
        self.preprocess = preprocess
        self.batch_size = batch_size
        self.device = device
        self.progress_bar = progress_bar
        self.cache = cache

    def _build(self):
        """The network (weights loaded, eval mode) and its timm preprocessing config, or None."""
        torch = _require("torch", "ImageEncoder")
        weights = _weights_kind(self.weights)
        if isinstance(self.model, str):
            timm = _require("timm", f"ImageEncoder(model={self.model!r})")
            if not timm.list_models(self.model) and not timm.list_pretrained(self.model):
                raise ValueError(
                    f"model={self.model!r} is not a timm model name (timm.list_models() lists them); "
                    "pass a torch.nn.Module for other networks."
                )
            try:
                network = timm.create_model(self.model, pretrained=weights == "pretrained")
            except Exception as exc:  # noqa: BLE001 - hub and cache failures come in many types
                raise OSError(
                    f"model={self.model!r} with weights='pretrained' needs timm's pretrained weights, which "
                    f"are neither in its cache nor downloadable here ({type(exc).__name__}: {exc}). Offline, "
                    "pass a local file: ImageEncoder(model=..., weights='/path/to/model.safetensors') "
                    "(or a directory holding model.safetensors or pytorch_model.bin)."
                ) from None
            if weights == "path":
                _load_weights(network, self.weights, f"timm's {self.model}")
            config = _timm_config(network)
        elif isinstance(self.model, torch.nn.Module):
            if weights == "random":
                raise ValueError(
                    "weights=None (timm's random initialisation) applies to a model name; a module keeps "
                    "its own weights (weights='pretrained') or loads a file (weights=path)."
                )
            network = copy.deepcopy(self.model)
            if weights == "path":
                _load_weights(network, self.weights, type(self.model).__name__)
            config = _timm_config(network) if getattr(network, "pretrained_cfg", None) else None
        else:
            raise TypeError(
                f"model must be a timm model name or a torch.nn.Module, got {type(self.model).__name__}."
            )
        return network.eval(), config

    def fit(self, X=None, y=None):
        """Load the network, check it on ``X``'s first image, record the output width.

        Parameters
        ----------
        X : sequence of path-like or PIL images, or uint8 ndarray of shape (n, H, W, 3), default=None
            Images; every path is checked to exist and open as an image. None
            checks the network on a blank image.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted encoder.
        """
        self._check_shared_params()
        overrides = _check_preprocess(self.preprocess)
        if self.layer is not None and not isinstance(self.layer, str):
            raise TypeError(f"layer must be a submodule name (str) or None, got {type(self.layer).__name__}.")
        images = None if X is None else _images(X)
        device = resolve_device(self.device)
        network, config = self._build()
        preprocess = _resolve_preprocess({**(config or IMAGENET_PREPROCESS), **overrides})
        layer = self.layer
        modules = dict(network.named_modules())
        if layer is not None and layer not in modules:
            close = [name for name in modules if name and layer.split(".")[-1] in name]
            raise ValueError(
                f"layer={layer!r} is not a submodule of the model"
                + (f"; similar names: {_first_few(close)}" if close else "; see dict(model.named_modules())")
                + "."
            )
        use_input = False
        if layer is None and not hasattr(network, "forward_head"):
            last = _last_linear(network)  # torchvision's classifiers: features are its input
            layer, use_input = (last, True) if last is not None else ("", False)  # "": the output
        network = network.to(device)
        self.model_, self.preprocess_, self.layer_, self.device_ = network, preprocess, layer, device
        self._layer_input = use_input
        self.identity_ = {
            "encoder": "ImageEncoder",
            "model": self.model if isinstance(self.model, str) else type(self.model).__name__,
            "weights": (self.weights if self.weights in ("pretrained", None) else Path(self.weights).name),
            "weights_sha256": _weights_sha256(self.weights),
            "state_sha256": _state_sha256(network),
            "layer": layer, "layer_input": use_input,
            "preprocess": preprocess,
            "versions": self._versions(),
        }
        if images is None:
            features = self._encode_items([np.zeros((*preprocess["input_size"], 3), dtype=np.uint8)])
        else:
            features = self._encode_unique(images[:1], [_image_key(images[0])])
        self.n_features_out_ = features.shape[1]
        return self

    def _forward(self, batch):
        network = self.model_
        if self.layer_ is None:
            output = network.forward_head(network.forward_features(batch), pre_logits=True)
            return _pool(output, f"model {type(network).__name__}'s pre-logits features")
        captured = {}
        module = dict(network.named_modules())[self.layer_]

        def hook(_module, inputs, output):
            captured["value"] = inputs[0] if self._layer_input else output

        handle = module.register_forward_hook(hook)
        try:
            network(batch)
        finally:
            handle.remove()
        where = f"the input of layer {self.layer_!r}" if self._layer_input else f"layer={self.layer_!r}"
        value = captured.get("value")
        if value is None:
            raise ValueError(f"{where} was not reached by the model's forward pass; choose another layer.")
        return _pool(value, where)

    def _pixels(self, images, first_row):
        """Decode and preprocess a batch of images: (n, 3, H, W) float32 (runs in a decoding thread)."""
        return np.stack([_preprocess_image(_load_image(image, f"X[{first_row + i}]"), self.preprocess_)
                         for i, image in enumerate(images)])

    def _encode_items(self, images):
        """Features of ``images`` in batches; a thread decodes the next batches while the network runs."""
        torch = _require("torch", "ImageEncoder")
        starts = list(range(0, len(images), self.batch_size))
        out = []
        with ThreadPolicy.from_environment() as policy, ThreadPoolExecutor(max_workers=1) as decoder, \
                torch.inference_mode():
            def decode(b):
                return decoder.submit(self._pixels, images[starts[b]:starts[b] + self.batch_size], starts[b])

            pending = collections.deque(decode(b) for b in range(min(_PREFETCH, len(starts))))
            for b in range(len(starts)):
                pixels = pending.popleft().result()
                if b + _PREFETCH < len(starts):
                    pending.append(decode(b + _PREFETCH))
                out.append(self._forward(torch.from_numpy(pixels).to(self.device_)))
                policy.revise()
        return np.concatenate([features.float().cpu().numpy() for features in out]).astype(np.float32, copy=False)

    def transform(self, X):
        """Encode images.

        Parameters
        ----------
        X : sequence of path-like or PIL images, or uint8 ndarray of shape (n, H, W, 3)
            Images (paths are checked before any encoding).

        Returns
        -------
        features : ndarray of shape (n_images, n_features_out_), dtype float32
            One row per image, in order.
        """
        return self._transform(X)

    def _transform(self, X, client=None):
        check_is_fitted(self, "model_")
        images = _images(X)
        return self._encode_unique(images, [_image_key(image) for image in images], client)


def _timm_config(network):
    """timm's data configuration (input size, interpolation, crop, mean, std) of a timm network."""
    timm = _require("timm", "ImageEncoder")
    return timm.data.resolve_data_config({}, model=network)


# ----------------------------------------------------------------------------- text


def _sentences(X):
    """``X`` as a list of non-empty strings, refusing anything else by position."""
    if isinstance(X, str):
        raise TypeError("X must be a sequence of sentences, got a single str; wrap it in a list.")
    if hasattr(X, "iloc"):
        if getattr(X, "ndim", 1) == 2:
            if X.shape[1] != 1:
                raise ValueError(f"X must be one column of sentences, got a DataFrame with {X.shape[1]} columns.")
            X = X.iloc[:, 0]
        X = X.tolist()
    elif isinstance(X, np.ndarray):
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]
        if X.ndim != 1:
            raise ValueError(f"X must be a 1-D sequence of sentences, got an array of shape {X.shape}.")
        X = X.tolist()
    if not hasattr(X, "__len__") or isinstance(X, (dict, set, frozenset)):  # a dict would give its keys
        raise TypeError(f"X must be a sequence of sentences (a list, an array or a pandas Series), got "
                        f"{type(X).__name__}.")
    sentences = list(X)
    if not sentences:
        raise ValueError("X has no sentences.")
    wrong = [i for i, s in enumerate(sentences) if not isinstance(s, str)]
    if wrong:
        raise TypeError(f"X must hold strings; item(s) {_first_few(wrong)} are {type(sentences[wrong[0]]).__name__}.")
    empty = [i for i, s in enumerate(sentences) if not s.strip()]
    if empty:
        raise ValueError(
            f"X has {len(empty)} empty or blank sentence(s), at {_first_few(empty)}; drop them or replace "
            "them with text (an empty string has no meaning to encode)."
        )
    return sentences


class TextEncoder(_PretrainedEncoder):
    """Pretrained sentence encoder as a transformer: sentences -> features.

    Parameters
    ----------
    model : str, path-like or sentence_transformers.SentenceTransformer, default="all-MiniLM-L6-v2"
        A sentence-transformers model name (loaded from the Hugging Face cache,
        else downloaded), a local model directory (offline), or a model object
        (copied in ``fit``).
    normalize : bool, default=False
        L2-normalise each embedding (some models, all-MiniLM-L6-v2 among them,
        already end in a normalisation layer).
    batch_size : int, default=32
        Sentences per forward pass.
    device : str, default="auto"
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda[:N]"``.
    progress_bar : bool or None, default=None
        Show a tqdm bar; None shows it from 1,024 sentences on.
    cache : str, path-like or None, default=None
        Folder of an on-disk feature cache. Features are stored under the
        content of each input (the sentence) and the encoder's identity
        (``identity_``: model, weights hash, normalisation, library
        versions), so a re-run, every fold and candidate of a grid search
        and the benchmark never encode the same input twice, and an
        interrupted ``transform`` resumes where it stopped (the result equals
        an uninterrupted run). None keeps nothing; repeated inputs of one
        call are encoded once either way.

    Attributes
    ----------
    model_ : sentence_transformers.SentenceTransformer
        The model on ``device_``, kept as state (pickled with the encoder).
    n_features_out_ : int
        Embedding width.
    identity_ : dict
        What the features depend on: the model (its name and the SHA-256 of
        its parameters and buffers, its modules as sentence-transformers
        describes them), ``normalize`` and the library versions. The cache is
        keyed by it.
    device_ : str
        The torch device used.

    See Also
    --------
    ImageEncoder : The same for images.

    Examples
    --------
    >>> from skcross.feature_extraction import TextEncoder
    >>> enc = TextEncoder("/path/to/all-MiniLM-L6-v2", device="cpu")  # doctest: +SKIP
    >>> enc.fit_transform(["a dog runs on the beach", "two men play chess"]).shape  # doctest: +SKIP
    (2, 384)
    """

    _inputs = "captions"  # what it encodes, as progress bars and encode_dataset name them

    def __init__(self, model="all-MiniLM-L6-v2", *, normalize=False, batch_size=32, device="auto", progress_bar=None,
                 cache=None):
        self.model = model
        self.normalize = normalize
        self.batch_size = batch_size
        self.device = device
        self.progress_bar = progress_bar
        self.cache = cache

    def _build(self, device):
        st = _require("sentence_transformers", "TextEncoder")
        if isinstance(self.model, st.SentenceTransformer):
            return copy.deepcopy(self.model).to(device)
        if not isinstance(self.model, (str, os.PathLike)):
            raise TypeError(
                f"model must be a sentence-transformers model name, a local directory or a "
                f"SentenceTransformer, got {type(self.model).__name__}."
            )
        path = Path(self.model)
        if isinstance(self.model, os.PathLike) or path.is_absolute() or str(self.model).startswith("."):
            if not path.is_dir():
                raise FileNotFoundError(f"model={str(self.model)!r}: no such model directory.")
        try:
            return st.SentenceTransformer(str(self.model), device=device)
        except Exception as exc:  # noqa: BLE001 - hub and cache failures come in many types
            raise OSError(
                f"model={str(self.model)!r} could not be loaded: it is not a local model directory and "
                f"sentence-transformers could not fetch it ({type(exc).__name__}: {exc}). Offline, pass the "
                "model's local directory: TextEncoder(model='/path/to/all-MiniLM-L6-v2')."
            ) from None

    def fit(self, X=None, y=None):
        """Load the model and record its embedding width.

        Parameters
        ----------
        X : sequence of str, default=None
            Sentences (checked: strings, none empty); None skips the check.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted encoder.
        """
        self._check_shared_params()
        if not isinstance(self.normalize, (bool, np.bool_)):
            raise TypeError(f"normalize must be True or False, got {self.normalize!r}.")
        if X is not None:
            _sentences(X)
        device = resolve_device(self.device)
        model = self._build(device).eval()
        self.model_, self.device_ = model, device
        width = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension  # renamed in 6.0
        self.n_features_out_ = int(width())
        self.identity_ = {
            "encoder": "TextEncoder",
            "model": str(self.model) if isinstance(self.model, (str, os.PathLike)) else type(self.model).__name__,
            "state_sha256": _state_sha256(model),
            "modules": repr(model),
            "normalize": bool(self.normalize),
            "versions": self._versions(),
        }
        return self

    def transform(self, X):
        """Encode sentences.

        Parameters
        ----------
        X : sequence of str or pandas Series
            Sentences, none empty.

        Returns
        -------
        features : ndarray of shape (n_sentences, n_features_out_), dtype float32
            One row per sentence, in order.
        """
        return self._transform(X)

    def _transform(self, X, client=None):
        check_is_fitted(self, "model_")
        sentences = _sentences(X)
        return self._encode_unique(sentences, [content_key("text", sentence) for sentence in sentences], client)

    def _encode_items(self, sentences):
        with ThreadPolicy.from_environment():
            out = self.model_.encode(sentences, batch_size=self.batch_size, show_progress_bar=False,
                                     convert_to_numpy=True, normalize_embeddings=bool(self.normalize),
                                     device=self.device_)
        return np.asarray(out, dtype=np.float32)


# ----------------------------------------------------------------------------- datasets


def _fitted_encoder(encoder, kind, cache):
    """``encoder`` ready to encode: fitted as given (a shallow copy), or a fitted clone; ``cache`` set on it."""
    cls = ImageEncoder if kind == "image" else TextEncoder
    if encoder is None:
        encoder = cls()
    if not isinstance(encoder, cls):
        raise TypeError(f"{kind}_encoder must be a {cls.__name__} (or None for the default), got "
                        f"{type(encoder).__name__}.")
    fitted = hasattr(encoder, "identity_")
    encoder = copy.copy(encoder) if fitted else encoder.__sklearn_clone__()
    if cache is not None:
        encoder.set_params(cache=cache)
    if not fitted:
        return encoder.fit()
    encoder._check_shared_params()  # fit checks them; here the cache set on a fitted encoder is checked
    return encoder


def encode_dataset(raw, image_encoder=None, text_encoder=None, *, cache=None, client=None):
    """Encode a raw image-caption dataset into the Bunch of features that ``load_dataset`` returns.

    Each distinct image file and caption is encoded once; with ``cache``,
    features are kept on disk under each input's content and the encoder's
    identity, so that a second run encodes nothing and an interrupted one
    resumes. With a Dask ``client``, the inputs to encode are sent to the
    workers in partitions (each worker unpickles the network once) and each
    finished partition is stored in the cache as it arrives: a worker that
    dies loses at most its partitions, which Dask runs again elsewhere.

    Parameters
    ----------
    raw : Bunch
        What :func:`skcross.datasets.load_image_captions` returns.
    image_encoder : ImageEncoder, default=None
        Used as it is when fitted, else cloned and fitted here. None: ``ImageEncoder("tf_efficientnet_lite0")``
        (timm's pretrained weights), the encoder of the shipped Flickr8k
        features.
    text_encoder : TextEncoder, default=None
        Used as it is when fitted, else cloned and fitted here. None: ``TextEncoder("all-MiniLM-L6-v2")``.
    cache : str, path-like or None, default=None
        Feature cache folder, set on both encoders (None keeps theirs).
    client : distributed.Client or None, default=None
        Encode on this Dask cluster (the client's machine keeps the cache).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Per split, ``X_img_<split>`` (one row per pair: the image's features
        repeated for each of its captions), ``X_txt_<split>``,
        ``groups_<split>`` (the image of each pair), ``y_<split>`` when the
        raw data has labels, and the raw arrays (``images_<split>``,
        ``image_ids_<split>``, ``captions_<split>``); ``name``, ``DESCR`` and
        ``metadata`` (the raw metadata plus ``encoders``, each encoder's
        ``identity_``, the ``cache`` folder and ``encoding``: inputs encoded,
        read from the cache, seconds).

    See Also
    --------
    skcross.datasets.load_image_captions : Read and check the raw files.

    Examples
    --------
    >>> from skcross.datasets import load_image_captions
    >>> from skcross.feature_extraction import ImageEncoder, TextEncoder, encode_dataset
    >>> raw = load_image_captions("dataset_flickr8k_sample.json", images="images")  # doctest: +SKIP
    >>> data = encode_dataset(raw, ImageEncoder(weights="lite0.pth"), TextEncoder("all-MiniLM-L6-v2"),
    ...                       cache="feature-cache")  # doctest: +SKIP
    >>> data.X_img_test.shape, data.X_txt_test.shape  # doctest: +SKIP
    ((500, 1280), (500, 384))
    """
    import time

    from sklearn.utils import Bunch

    if not isinstance(raw, dict) or "images_train" not in raw or "captions_train" not in raw:
        raise TypeError("raw must be the Bunch of skcross.datasets.load_image_captions (images_<split>, "
                        "captions_<split>, groups_<split>); for pre-extracted features use load_dataset.")
    splits = [split for split in ("train", "dev", "test") if f"images_{split}" in raw]
    encoders = {"image": _fitted_encoder(image_encoder, "image", cache),
                "text": _fitted_encoder(text_encoder, "text", cache)}
    features, encoding = {}, {}
    for kind, encoder in encoders.items():
        per_split = [raw[f"{encoder._inputs}_{split}"] for split in splits]
        items = np.concatenate(per_split).tolist()
        start = time.perf_counter()
        encoded = encoder._transform(items, client)
        counts = encoder._last_counts
        encoding[encoder._inputs] = {"inputs": len(items), "encoded": counts["encoded"],
                                     "from_cache": counts["distinct"] - counts["encoded"],
                                     "seconds": round(time.perf_counter() - start, 2)}
        bounds = np.cumsum([0] + [len(inputs) for inputs in per_split])
        features[kind] = {split: encoded[a:b] for split, a, b in zip(splits, bounds[:-1], bounds[1:])}
    out = {}
    for split in splits:
        groups = np.asarray(raw[f"groups_{split}"])
        out[f"X_img_{split}"] = features["image"][split][groups]
        out[f"X_txt_{split}"] = features["text"][split]
        for prefix in ("groups", "y", "images", "image_ids", "captions"):
            if f"{prefix}_{split}" in raw:
                out[f"{prefix}_{split}"] = raw[f"{prefix}_{split}"]
    if "class_names" in raw:
        out["class_names"] = raw["class_names"]
    metadata = {**raw.get("metadata", {}),
                "encoders": {kind: encoder.identity_ for kind, encoder in encoders.items()},
                "cache": None if encoders["image"].cache is None else  # ``cache``, when given, is set on both
                str(Path(encoders["image"].cache).expanduser().resolve()),
                "encoding": encoding}
    return Bunch(**out, name=raw.get("name", "raw"), DESCR=raw.get("DESCR", ""), metadata=metadata)
