"""Loading and fetching pre-extracted image-text retrieval datasets.

A dataset is a compressed NumPy file ``<name>.npz`` (``X_img_train``,
``X_txt_train``, ``y_train``, ``X_img_test``, ``X_txt_test``, ``y_test`` and
optional extra arrays) with a JSON sidecar ``<name>.json`` holding its
provenance (source, paper, features, split, caveats). An instance-level
dataset (several captions per image, no classes) has ``groups_<split>``
instead of labels: the image row of each caption. A ``<split>_dev`` set of
arrays, when present, is a third split for choosing settings.
"""

import hashlib
import json
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

__all__ = ["DATASETS", "fetch_dataset", "get_data_home", "load_dataset", "load_wikipedia"]

_BUNDLED = Path(__file__).resolve().parent / "data"

_REQUIRED_ARRAYS = ("X_img_train", "X_txt_train", "y_train", "X_img_test", "X_txt_test", "y_test")
_SPLITS = ("train", "dev", "test")

#: Known datasets: alias -> file stem and SHA-256 of its two files.
DATASETS = {
    "wikipedia": {
        "stem": "wikipedia_sift128_lda10",
        "sha256": {
            "npz": "c2f280303e22f14e32b6b7e207559100315d0815e7c0029c6dcc8ca7c21664a5",
            "json": "b537905a12470b293a9b65f958bc40e413f7c42e2bb5ab78acedffc2d477764a",
        },
    },
    "wikipedia_minilm": {
        "stem": "wikipedia_sift128_minilm384",
        "sha256": {
            "npz": "c550a6513a5fa0f5b6330705e15447b1293ce8ea7d3bfa4a5d7de1b0514e9784",
            "json": "41c89feb0efd555496f4c77a4746c6f7e62890fea513e60247124b8eccb8730f",
        },
    },
    "cub10": {
        "stem": "cub10_googlenet1024_doc2vec300",
        "sha256": {
            "npz": "91372338af18d146b1879486f1ba83d2dbd852752bd2b154e5118f92db6cbfa8",
            "json": "154f79fa2bab0c7c5b1a46851c726c790c0cb9610dc8dfc3788401e772cc0e9f",
        },
    },
    "flickr8k": {
        "stem": "flickr8k_effnetlite0_minilm",
        "sha256": {
            "npz": "cb853ccbfc3f2471d97451a6510a29b2e8cc03fb21919abab2f13dcd4ff62466",
            "json": "284a6fd5e950d68d7aa332ab5aacced9e4f7fb8a8bb0a67304f45f5fdbc26e9b",
        },
    },
    "pascal_sentence_fixture": {
        "stem": "pascal_sentence_vgg19_test100_resplit",
        "sha256": {
            "npz": "24280fb2c5f9b70b4abb810557765e12941ac29498275f4a58f823c5324dc7c3",
            "json": "ce9354b0f4fb637b2286e19bed7b04d3618be760aa986fbf9f795de0f624f222",
        },
    },
}


def get_data_home(data_home=None):
    """Folder holding skcross datasets, created if missing.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder. None uses the ``SKCROSS_DATA`` environment variable, or
        ``~/skcross_data`` when it is unset.

    Returns
    -------
    data_home : pathlib.Path
        The folder.

    Examples
    --------
    >>> import tempfile
    >>> from skcross.datasets import get_data_home
    >>> get_data_home(tempfile.mkdtemp()).is_dir()
    True
    """
    if data_home is None:
        data_home = os.environ.get("SKCROSS_DATA", Path("~") / "skcross_data")
    data_home = Path(data_home).expanduser()
    data_home.mkdir(parents=True, exist_ok=True)
    return data_home


def _resolve_name(name):
    for alias, entry in DATASETS.items():
        if name in (alias, entry["stem"]):
            return entry
    return None


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(url, target, sha256, timeout):
    """Download ``url`` to ``target`` atomically, keeping it only if the checksum matches."""
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as tmp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                shutil.copyfileobj(response, tmp)
            tmp.close()
            actual = _sha256(tmp.name)
            if actual != sha256:
                raise OSError(
                    f"Checksum mismatch for {url}: expected SHA-256 {sha256}, got {actual}. "
                    "The file was discarded."
                )
            os.replace(tmp.name, target)
        finally:
            if os.path.exists(tmp.name):
                os.remove(tmp.name)


def fetch_dataset(name, *, data_home=None, base_url=None, timeout=60):
    """Download a known dataset into ``data_home`` unless it is already there.

    Both files (``<stem>.npz`` and ``<stem>.json``) are fetched from
    ``base_url`` and kept only when their SHA-256 matches the registry
    (:data:`DATASETS`); a partial or corrupt download never replaces a file.

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS` or its file stem.
    data_home : str or path-like, default=None
        Where datasets live; see :func:`get_data_home`.
    base_url : str, default=None
        Mirror holding the files (``http(s)://`` or ``file://``). None uses
        the ``SKCROSS_DATA_URL`` environment variable. skcross does not host
        the files itself: they are distributed by their authors (see each
        JSON's ``source``), so a mirror must be given.
    timeout : float, default=60
        Seconds to wait for the server.

    Returns
    -------
    path : pathlib.Path
        Path of the ``.npz`` file.

    Examples
    --------
    >>> from skcross.datasets import fetch_dataset
    >>> fetch_dataset("wikipedia", data_home=shared_datasets)  # doctest: +SKIP
    PosixPath('.../wikipedia_sift128_lda10.npz')
    """
    entry = _resolve_name(name)
    if entry is None:
        raise ValueError(f"Unknown dataset {name!r}; known datasets: {sorted(DATASETS)}.")
    data_home = get_data_home(data_home)
    missing = [ext for ext in ("npz", "json") if not (data_home / f"{entry['stem']}.{ext}").exists()]
    if missing:
        base_url = base_url or os.environ.get("SKCROSS_DATA_URL")
        if not base_url:
            raise FileNotFoundError(
                f"Dataset {name!r} is not in {data_home} and no mirror is configured. "
                f"Put {entry['stem']}.npz and .json there, or pass base_url= "
                "(or set SKCROSS_DATA_URL) to download them."
            )
        for ext in missing:
            filename = f"{entry['stem']}.{ext}"
            url = urllib.parse.urljoin(base_url.rstrip("/") + "/", filename)
            _download(url, data_home / filename, entry["sha256"][ext], timeout)
    return data_home / f"{entry['stem']}.npz"


def load_dataset(
    name_or_path, *, data_home=None, download_if_missing=True, return_X_y=False, base_url=None, pair_rows=True
):
    """Load a pre-extracted image-text dataset (``.npz`` + ``.json``).

    Parameters
    ----------
    name_or_path : str or path-like
        A dataset name (a key of :data:`DATASETS`, e.g. ``"wikipedia"``, or
        its file stem) looked up in ``data_home``, or the path of an ``.npz``
        file (its ``.json`` sidecar, when present, is read too).
    data_home : str or path-like, default=None
        Where named datasets live; see :func:`get_data_home`.
    download_if_missing : bool, default=True
        Fetch a named dataset that is not in ``data_home`` (see
        :func:`fetch_dataset`); otherwise raise ``FileNotFoundError``.
    return_X_y : bool, default=False
        Return ``(X_img_train, X_txt_train, y_train, X_img_test, X_txt_test,
        y_test)`` instead of a Bunch.
    base_url : str, default=None
        Mirror for downloads; see :func:`fetch_dataset`.
    pair_rows : bool, default=True
        For a file that stores each image once and several captions per
        image (``groups_<split>`` = the image row of each caption, as
        Flickr8k): True repeats each image row for each of its captions, so
        that row ``i`` of ``X_img_<split>`` and of ``X_txt_<split>`` is one
        pair, as every estimator's ``fit`` takes it; False keeps the image
        rows once, as stored (``groups_<split>`` then index them). Files with
        one row per pair are returned as they are either way.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Every array of the file (``X_img_train``, ``X_txt_train``, ``y_train``,
        ``X_img_test``, ``X_txt_test``, ``y_test`` and extras such as
        ``class_names``, or ``groups_train`` / ``groups_test``, the image of
        each pair of a dataset with several texts per image, which make the
        benchmark evaluate instance-level retrieval), plus ``metadata`` (the
        JSON as a dict, empty if absent), ``DESCR`` (its description) and
        ``name``. A file with a development split (``X_img_dev``,
        ``X_txt_dev`` and ``y_dev`` or ``groups_dev``; Flickr8k's 1,000
        standard dev images) returns it the same way: choose settings on dev
        and score the test split once. An instance-level file without class
        labels (Flickr8k) has ``groups_<split>`` and no ``y_<split>`` arrays
        (``y_train`` and ``y_test`` are None with ``return_X_y``); extra
        per-image arrays (``image_ids_<split>``) keep one row per image,
        per-caption ones (``captions_<split>``) one row per caption.

    Raises
    ------
    ValueError
        When the file breaks the format: a required array is missing, a
        split's features have another width than the training split's,
        ``groups_<split>`` does not hold one value per caption, or a caption
        points at an image row that does not exist.

    Examples
    --------
    >>> from skcross.datasets import load_dataset
    >>> d = load_dataset("wikipedia", data_home=shared_datasets)  # doctest: +SKIP
    >>> d.X_img_train.shape, d.X_txt_train.shape  # doctest: +SKIP
    ((2173, 128), (2173, 10))
    >>> f = load_dataset("flickr8k", data_home=shared_datasets)  # doctest: +SKIP
    >>> f.X_img_dev.shape, f.X_txt_dev.shape, f.groups_dev[:6].tolist()  # doctest: +SKIP
    ((5000, 1280), (5000, 384), [0, 0, 0, 0, 0, 1])
    """
    entry = _resolve_name(str(name_or_path))
    if entry is not None and not Path(name_or_path).suffix:
        path = get_data_home(data_home) / f"{entry['stem']}.npz"
        if not path.exists() or not path.with_suffix(".json").exists():
            if not download_if_missing:
                raise FileNotFoundError(
                    f"Dataset {name_or_path!r} is not in {path.parent} and download_if_missing=False."
                )
            path = fetch_dataset(name_or_path, data_home=data_home, base_url=base_url)
    else:
        path = Path(name_or_path).expanduser()
        if not path.suffix:
            path = path.with_name(path.name + ".npz")
        if path.suffix != ".npz" or not path.is_file():
            raise FileNotFoundError(
                f"{name_or_path!r} is neither a known dataset ({sorted(DATASETS)}) "
                f"nor an existing .npz file."
            )
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile) as error:  # not an npz, a cut file, or pickled objects
        raise ValueError(f"{path} could not be read as a NumPy .npz archive of arrays: {error}") from None
    _check_splits(arrays, path)
    if pair_rows:
        for split in _SPLITS:
            if f"groups_{split}" in arrays and _images_once(arrays, split):
                arrays[f"X_img_{split}"] = arrays[f"X_img_{split}"][arrays[f"groups_{split}"]]
    sidecar = path.with_suffix(".json")
    metadata = json.loads(sidecar.read_text()) if sidecar.exists() else {}
    if return_X_y:
        return tuple(arrays.get(key) for key in _REQUIRED_ARRAYS)
    return Bunch(
        **arrays,
        metadata=metadata,
        DESCR=metadata.get("description", ""),
        name=metadata.get("name", path.stem),
    )


def _images_once(arrays, split):
    """Whether a split stores each image once (fewer image rows than captions, ``groups`` indexing them)."""
    return arrays[f"X_img_{split}"].shape[0] != arrays[f"X_txt_{split}"].shape[0]


def _check_splits(arrays, path):
    """Refuse a file whose splits break the format, naming the array at fault."""
    # train and test always; dev when any of its arrays is there
    expected = [split for split in _SPLITS if split != "dev" or "X_img_dev" in arrays or "X_txt_dev" in arrays]
    missing = [f"{prefix}_{split}" for split in expected for prefix in ("X_img", "X_txt")
               if f"{prefix}_{split}" not in arrays]
    for split in expected:
        if f"y_{split}" not in arrays and f"groups_{split}" not in arrays:
            missing.append(f"y_{split} (or groups_{split}, for instance-level data)")
    if missing:
        raise ValueError(f"{path} is not a skcross dataset: arrays {missing} are missing.")
    for split in expected:
        X_img, X_txt = arrays[f"X_img_{split}"], arrays[f"X_txt_{split}"]
        for name, X in ((f"X_img_{split}", X_img), (f"X_txt_{split}", X_txt)):
            if X.ndim != 2:
                raise ValueError(f"{path}: {name} must be 2-D (rows, features), got shape {X.shape}.")
            if X.dtype.kind not in "fiub":
                raise ValueError(f"{path}: {name} must hold numbers (features), got dtype {X.dtype}.")
            if X.dtype.kind == "f" and not np.isfinite(X).all():
                raise ValueError(f"{path}: {name} holds {int((~np.isfinite(X)).sum())} NaN or infinite values.")
        for modality in ("X_img", "X_txt"):
            width, train_width = arrays[f"{modality}_{split}"].shape[1], arrays[f"{modality}_train"].shape[1]
            if width != train_width:
                raise ValueError(
                    f"{path}: {modality}_{split} has {width} features but {modality}_train has {train_width}: every "
                    "split must come from the same feature extractor."
                )
        n_texts = X_txt.shape[0]
        groups = arrays.get(f"groups_{split}")
        if groups is not None:
            if groups.shape != (n_texts,):
                raise ValueError(
                    f"{path}: groups_{split} has shape {groups.shape}, but X_txt_{split} has {n_texts} rows: "
                    f"groups_{split} must hold one image row per caption."
                )
            if _images_once(arrays, split):
                if groups.dtype.kind not in "iu":
                    raise ValueError(f"{path}: groups_{split} must hold integer image rows, got dtype {groups.dtype}.")
                outside = (groups < 0) | (groups >= X_img.shape[0])
                if outside.any():
                    first = int(np.flatnonzero(outside)[0])
                    raise ValueError(
                        f"{path}: groups_{split}[{first}] = {groups[first]} points at an image that does not exist: "
                        f"X_img_{split} has {X_img.shape[0]} rows (0 to {X_img.shape[0] - 1}). "
                        f"{int(outside.sum())} caption(s) point outside."
                    )
        elif X_img.shape[0] != n_texts:
            raise ValueError(
                f"{path}: X_img_{split} has {X_img.shape[0]} rows and X_txt_{split} {n_texts}, and there is no "
                f"groups_{split} saying which image each caption describes."
            )
        y = arrays.get(f"y_{split}")
        if y is not None and (y.ndim not in (1, 2) or y.shape[0] != n_texts):
            raise ValueError(f"{path}: y_{split} has shape {y.shape}, but X_txt_{split} has {n_texts} rows: y_{split} "
                             "must hold one label (1-D) or one 0/1 row of labels (2-D) per caption.")
        if y is not None and y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError(f"{path}: y_{split} holds NaN or infinite labels.")


def load_wikipedia(*, return_X_y=False):
    """Load the Wikipedia benchmark features shipped with skcross (no download).

    The Wikipedia image-text dataset of Rasiwasia et al. (2010): 2,866
    image-text pairs from Wikipedia's featured articles in 10 categories,
    official split of 2,173 training and 693 test pairs. Images are 128-d
    bag-of-visual-words histograms of SIFT descriptors, texts 10-d LDA topic
    proportions, as the authors distributed them (rows sum to 1; no further
    preprocessing). Labels are the categories, 0-based. The file is the same
    as ``load_dataset("wikipedia")`` (same SHA-256, see :data:`DATASETS`).

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(X_img_train, X_txt_train, y_train, X_img_test, X_txt_test,
        y_test)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As :func:`load_dataset`: the arrays (plus ``class_names`` and the
        image/text ids of each row), ``metadata`` (provenance: source
        repository and files, paper, features, split, caveats), ``DESCR`` and
        ``name``.

    Notes
    -----
    Please cite the dataset's paper when you use it:
    N. Rasiwasia, J. Costa Pereira, E. Coviello, G. Doyle, G. R. G. Lanckriet,
    R. Levy, N. Vasconcelos. A New Approach to Cross-Modal Multimedia
    Retrieval. ACM Multimedia 2010. The features were obtained from the
    authors' distribution (http://www.svcl.ucsd.edu/projects/crossmodal/) via
    the copy recorded in ``metadata["source"]``.

    Examples
    --------
    >>> from skcross.datasets import load_wikipedia
    >>> wiki = load_wikipedia()
    >>> wiki.X_img_train.shape, wiki.X_txt_train.shape, wiki.X_img_test.shape
    ((2173, 128), (2173, 10), (693, 128))
    >>> wiki.class_names[:3].tolist()
    ['art', 'biology', 'geography']
    """
    return load_dataset(_BUNDLED / f"{DATASETS['wikipedia']['stem']}.npz", return_X_y=return_X_y)
