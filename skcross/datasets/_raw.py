"""Image-caption datasets from raw files: a Karpathy split JSON or a CSV/TSV manifest.

The Karpathy split file (``dataset_flickr30k.json``, ``dataset_coco.json``, as
VSE++, SCAN and CLIP_benchmark read them) lists ``images``, each with a
``filename`` (and, for COCO, a ``filepath`` folder), a ``split`` (train, val,
restval, test) and ``sentences`` whose ``raw`` strings are the captions. A
manifest is a table with one row per (image, caption) pair and the columns
``image``, ``caption``, ``split`` and optionally ``label`` (one class) or
``labels`` (several, separated by ``|``).

Both become the raw counterpart of :func:`load_dataset`'s Bunch: per split,
the image files once (``images_<split>``) and each caption with the row of
its image (``captions_<split>``, ``groups_<split>``). ``restval`` joins
train (as VSE++ and SCAN train on it) and ``val`` is the dev split.
Everything is checked before any encoding starts.
"""

import collections
import csv
import json
import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ._base import _sha256

__all__ = ["load_image_captions"]

#: Split names of the files -> skcross's split names.
SPLIT_NAMES = {"train": "train", "restval": "train", "val": "dev", "dev": "dev", "test": "test"}
_MANIFEST_DELIMITERS = {".csv": ",", ".tsv": "\t"}
_MANIFEST_COLUMNS = ("image", "caption", "split")
_LABELS_SEPARATOR = "|"
_N_NAMED = 5  # how many offending rows an error message names

#: One (image, caption) pair of a file: ``where`` names the caption's place (``images[3].sentences[1]``,
#: ``line 7``), ``entry`` its image's (``images[3]``; a manifest's line is both), ``labels`` None without them.
_Row = collections.namedtuple("_Row", "where entry image caption split labels")


def _named(problems):
    shown = "; ".join(problems[:_N_NAMED])
    return shown + (f" (and {len(problems) - _N_NAMED} more)" if len(problems) > _N_NAMED else "")


def _karpathy_rows(path):
    """``(rows, the file's dataset name, None)``: a :data:`_Row` per caption of a Karpathy split JSON."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a readable JSON file ({exc}).") from None
    images = document.get("images") if isinstance(document, dict) else None
    if not isinstance(images, list):
        raise ValueError(
            f"{path} is not a Karpathy split file: it needs a top-level 'images' list (each with 'filename', "
            "'split' and 'sentences' holding 'raw' captions), as dataset_flickr30k.json has."
        )
    rows, problems = [], []
    for i, image in enumerate(images):
        where = f"images[{i}]"
        if not isinstance(image, dict) or not isinstance(image.get("filename"), str):
            problems.append(f"{where} has no 'filename' string")
            continue
        filename = os.path.join(image["filepath"], image["filename"]) if image.get("filepath") else image["filename"]
        sentences = image.get("sentences")
        if not isinstance(sentences, list) or not sentences:
            problems.append(f"{where} ({filename}) has no 'sentences'")
            continue
        for j, sentence in enumerate(sentences):
            raw = sentence.get("raw") if isinstance(sentence, dict) else None
            if not isinstance(raw, str):
                problems.append(f"{where}.sentences[{j}] ({filename}) has no 'raw' string")
                continue
            rows.append(_Row(f"{where}.sentences[{j}]", where, filename, raw, image.get("split"), None))
    if problems:
        raise ValueError(f"{path}: {len(problems)} entr(y/ies) break the Karpathy layout: {_named(problems)}.")
    return rows, document.get("dataset"), None


def _manifest_rows(path):
    """``(rows, None, the label column or None)``: a :data:`_Row` per line of a CSV/TSV manifest."""
    delimiter = _MANIFEST_DELIMITERS[Path(path).suffix.lower()]
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f, delimiter=delimiter)
            header = reader.fieldnames or []
            records = list(reader)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text ({exc}).") from None
    missing = [column for column in _MANIFEST_COLUMNS if column not in header]
    if missing:
        raise ValueError(
            f"{path}: the header {header} lacks the column(s) {missing}; a manifest has the columns "
            f"{', '.join(_MANIFEST_COLUMNS)} (and optionally 'label' or 'labels'), "
            f"{'tab' if delimiter == chr(9) else 'comma'}-separated, one row per (image, caption) pair."
        )
    if "label" in header and "labels" in header:
        raise ValueError(f"{path}: give either a 'label' column (one class) or 'labels' ('|'-separated), not both.")
    label_column = "label" if "label" in header else "labels" if "labels" in header else None
    rows = []
    for line, record in enumerate(records, start=2):  # line 1 is the header
        if None in record:
            raise ValueError(f"{path}, line {line}: more fields than the header's {len(header)}; quote captions that "
                             f"hold the separator.")
        labels = None
        if label_column is not None:
            value = (record[label_column] or "").strip()
            labels = [part.strip() for part in value.split(_LABELS_SEPARATOR)] if label_column == "labels" else [value]
            labels = [part for part in labels if part]
        rows.append(_Row(f"line {line}", f"line {line}", record["image"] or "", record["caption"] or "",
                         record["split"], labels))
    if not rows:
        raise ValueError(f"{path} has a header but no rows.")
    return rows, None, label_column


def _check_rows(rows, path):
    """Refuse unknown splits, empty captions, duplicates and images in two splits, naming each row."""
    problems = []
    unknown = [f"{row.where}: split {row.split!r}" for row in rows if row.split not in SPLIT_NAMES]
    if unknown:
        raise ValueError(f"{path}: unknown split name(s), the known ones being train, val, restval, test "
                         f"(val is the dev split, restval joins train): {_named(unknown)}.")
    empty = [f"{row.where} ({row.image})" for row in rows if not row.caption.strip()]
    if empty:
        raise ValueError(f"{path}: {len(empty)} empty or blank caption(s): {_named(empty)}; drop those rows.")
    no_image = [row.where for row in rows if not row.image.strip()]
    if no_image:
        raise ValueError(f"{path}: {len(no_image)} row(s) name no image file: {_named(no_image)}.")
    seen_pair, image_split, image_first, image_entry = {}, {}, {}, {}
    for where, entry, image, caption, split, _ in rows:
        if (image, caption) in seen_pair:
            problems.append(f"{where} repeats {seen_pair[image, caption]} ({image}: {caption[:40]!r})")
        seen_pair.setdefault((image, caption), where)
        image_first.setdefault(image, where)
        if image_split.setdefault(image, SPLIT_NAMES[split]) != SPLIT_NAMES[split]:
            problems.append(f"{where} puts {image} in {split}, {image_first[image]} in {image_split[image]}")
        if entry.startswith("images[") and image_entry.setdefault(image, entry) != entry:
            problems.append(f"{entry} names {image} again (first in {image_entry[image]})")
    if problems:
        raise ValueError(f"{path}: {len(problems)} duplicate row(s): {_named(list(dict.fromkeys(problems)))}.")


def _check_image_files(files, images_dir, path, where):
    """Every image file exists, is a file, is readable and (with Pillow) opens as an image."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with the encoders extra
        Image = None
    missing, unreadable = [], []
    for image, full in files.items():
        if not os.path.isfile(full):
            missing.append(f"{where[image]}: {full}" + (" is a directory" if os.path.isdir(full) else ""))
            continue
        if not os.access(full, os.R_OK):
            unreadable.append(f"{where[image]}: {full} (permission denied)")
            continue
        if Image is not None:
            try:
                with Image.open(full):
                    pass
            except (OSError, ValueError) as exc:
                unreadable.append(f"{where[image]}: {full} ({type(exc).__name__}: {exc})")
    if missing:
        raise FileNotFoundError(
            f"{path}: {len(missing)} image file(s) are missing under images={str(images_dir)!r}: {_named(missing)}. "
            "Pass the folder that holds them as images= (--images on the command line)."
        )
    if unreadable:
        raise ValueError(f"{path}: {len(unreadable)} image file(s) cannot be read as images: {_named(unreadable)}.")


def load_image_captions(path, *, images=None):
    """Load an image-caption dataset from raw files: a Karpathy split JSON or a CSV/TSV manifest.

    Nothing is encoded: the result lists the image files and the captions of
    each split, checked, for :func:`skcross.feature_extraction.encode_dataset`
    to turn into the Bunch of features that :func:`load_dataset` returns.

    Parameters
    ----------
    path : str or path-like
        A Karpathy split file (``.json``: ``images[].filename``,
        ``images[].split`` in train, val, restval, test, and
        ``images[].sentences[].raw``; other fields are ignored; a
        ``filepath`` field, as COCO's, is the image's sub-folder), or a
        manifest (``.csv`` or ``.tsv`` with a header): one row per (image,
        caption) pair, columns ``image`` (a path, relative to ``images``),
        ``caption``, ``split`` and optionally ``label`` (one class per pair)
        or ``labels`` (classes separated by ``|``, multi-label).
    images : str or path-like, default=None
        Folder the image paths are relative to. None: the folder of ``path``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        For each split (``train``, which includes ``restval``; ``dev``, the
        file's ``val``, when it has one; ``test``): ``images_<split>`` (the
        image files, once each, as absolute paths), ``image_ids_<split>``
        (their names in the file), ``captions_<split>`` (one per pair) and
        ``groups_<split>`` (the row in ``images_<split>`` of each caption's
        image), and ``y_<split>`` (per caption: class indices, or a 0/1
        indicator matrix for ``labels``) with ``class_names`` when the
        manifest has labels. Also ``name``, ``DESCR`` and ``metadata`` (the
        file, its format and SHA-256, the image folder, the counts).

    Raises
    ------
    FileNotFoundError
        ``path`` or an image file is missing (each named with its row).
    ValueError
        The file breaks its format, a split name is unknown, a caption is
        empty, a pair is repeated, an image is in two splits or a file is not
        a readable image: every problem is named with its row, and all of
        this is found before anything is encoded.

    See Also
    --------
    skcross.feature_extraction.encode_dataset : Encode the files, cached on disk.
    load_dataset : The same Bunch from pre-extracted features.

    Examples
    --------
    >>> from skcross.datasets import load_image_captions
    >>> raw = load_image_captions("dataset_flickr30k.json", images="flickr30k-images")  # doctest: +SKIP
    >>> raw.images_test.shape, raw.captions_test.shape, raw.groups_test[:6].tolist()  # doctest: +SKIP
    ((1000,), (5000,), [0, 0, 0, 0, 0, 1])
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or path-like), got {type(path).__name__}.")
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in (".json", *_MANIFEST_DELIMITERS):
        raise ValueError(
            f"path={str(path)!r} has the suffix {suffix!r}; a raw dataset is a Karpathy split file (.json) or a "
            "manifest (.csv or .tsv with the columns image, caption, split and optionally label or labels)."
        )
    if not path.is_file():
        raise FileNotFoundError(f"path={str(path)!r}: no such file.")
    images_dir = Path(images).expanduser() if images is not None else path.parent
    if not images_dir.is_dir():
        raise FileNotFoundError(f"images={str(images)!r}: no such folder (it holds the image files).")
    rows, dataset_name, label_column = (_karpathy_rows if suffix == ".json" else _manifest_rows)(path)
    _check_rows(rows, path)
    files, where = {}, {}
    for row in rows:
        files.setdefault(row.image, str((images_dir / row.image).resolve()))
        where.setdefault(row.image, row.entry)
    _check_image_files(files, images_dir, path, where)

    class_names = None
    if label_column is not None:
        unlabelled = [row.where for row in rows if not row.labels]
        if unlabelled:
            raise ValueError(f"{path}: {len(unlabelled)} row(s) have an empty '{label_column}': {_named(unlabelled)}.")
        class_names = np.array(sorted({label for row in rows for label in row.labels}))
        index = {name: k for k, name in enumerate(class_names)}
    out = {}
    for split in ("train", "dev", "test"):
        split_rows = [row for row in rows if SPLIT_NAMES[row.split] == split]
        if not split_rows:
            if split != "dev":
                raise ValueError(f"{path} has no {split} pairs; a dataset needs train and test "
                                 f"(and, for choosing settings, val).")
            continue
        image_row = {}
        for row in split_rows:
            image_row.setdefault(row.image, len(image_row))
        out[f"images_{split}"] = np.array([files[image] for image in image_row])
        out[f"image_ids_{split}"] = np.array(list(image_row))
        out[f"captions_{split}"] = np.array([row.caption for row in split_rows])
        out[f"groups_{split}"] = np.array([image_row[row.image] for row in split_rows], dtype=np.int64)
        if class_names is not None:
            if label_column == "label":
                out[f"y_{split}"] = np.array([index[row.labels[0]] for row in split_rows], dtype=np.int64)
            else:
                Y = np.zeros((len(split_rows), len(class_names)), dtype=np.uint8)
                for r, row in enumerate(split_rows):
                    Y[r, [index[label] for label in row.labels]] = 1
                out[f"y_{split}"] = Y
    if class_names is not None:
        out["class_names"] = class_names
    counts = {split: {"images": len(out[f"images_{split}"]), "captions": len(out[f"captions_{split}"])}
              for split in ("train", "dev", "test") if f"images_{split}" in out}
    metadata = {
        "source": str(path.resolve()),
        "format": "karpathy split JSON" if suffix == ".json" else f"{suffix[1:]} manifest",
        "sha256": _sha256(path),
        "images": str(images_dir.resolve()),
        "splits": counts,
    }
    name = dataset_name if isinstance(dataset_name, str) and dataset_name else path.stem
    return Bunch(**out, name=name, metadata=metadata,
                 DESCR=f"{name}: raw images and captions from {path.name} ({metadata['format']})")
