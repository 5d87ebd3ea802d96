"""Each finished fit of a benchmark run, kept on disk the moment it finishes.

A run with an output folder writes ``protocol.json`` before its first fit,
then one file per finished fit in ``<output>/fits/``: its row, per-query
average precision, curves and example captions. Every file is written under a
temporary name and renamed, so a file is either whole or absent, whatever
stops the run. A re-run of the same settings reads these files instead of
fitting again, and the tables of an interrupted run are rendered from them.
"""

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np

from ..metrics import PrecisionRecallCurve, PrecisionScopeCurve

__all__ = ["DIRECTIONS", "FITS", "FitStore", "curve_entries", "curves_from_entries", "write_atomic"]

DIRECTIONS = ("i2t", "t2i")  # image query -> text database, and the reverse

FITS = "fits"  # the output folder's subfolder of finished fits
_REFERENCE = "reference.npz"  # what the run computed before its first fit: class-prior curves, test labels, examples


def write_atomic(path, write):
    """Call ``write(file)`` on a temporary file beside ``path``, flush it to disk, then rename it to ``path``."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def _json_default(value):
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot keep {type(value).__name__} {value!r} in a fit's record")


def curve_entries(curves):
    """``{(method, direction, kind): [curve, ...]}`` as JSON entries: one per key, the seeds' x and precision lists
    (``curves.json``, and each kept fit's record; JSON keeps float64 values exactly)."""
    return [{"method": name, "direction": direction, "kind": kind,
             "x": [np.asarray(c.recall if kind == "pr" else c.scopes).tolist() for c in values],
             "precision": [np.asarray(c.precision).tolist() for c in values]}
            for (name, direction, kind), values in curves.items()]


def curves_from_entries(entries):
    """What :func:`curve_entries` wrote, as curves again."""
    return {(e["method"], e["direction"], e["kind"]): [
        PrecisionRecallCurve(np.array(p), np.array(x)) if e["kind"] == "pr" else PrecisionScopeCurve(np.array(x),
                                                                                                       np.array(p))
        for x, p in zip(e["x"], e["precision"])] for e in entries}


class FitStore:
    """The finished fits of one output folder: write each as it finishes, read them back.

    A fit's record is a dict: ``"row"`` (the runs table's row: method, seed,
    scores, costs, or ``"error"`` / ``"skipped"``), ``"curves"``
    (``{(direction, kind): curve}``), ``"per_query_ap"`` (``{direction:
    array}``) and ``"examples"`` (each example query's top captions, with
    whether each is relevant, or None).
    """

    def __init__(self, directory):
        self.directory = Path(directory)
        self.fits = self.directory / FITS

    def path(self, name, seed):
        """The file of one fit: the method's name made safe for a file name, and the seed."""
        return self.fits / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}-seed{seed}.npz"

    def saved_protocol(self):
        """The protocol the folder's fits were made with, or None when it holds no fits."""
        if not self.fits.is_dir() or not any(self.fits.glob("*-seed*.npz")):
            return None
        path = self.directory / "protocol.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def start(self, protocol, *, fresh=False):
        """Write the run's protocol before its first fit (discarding every kept fit when ``fresh``)."""
        if fresh and self.fits.exists():
            shutil.rmtree(self.fits)
        self.fits.mkdir(parents=True, exist_ok=True)
        text = json.dumps(protocol, indent=2, default=_json_default) + "\n"
        write_atomic(self.directory / "protocol.json", lambda f: f.write(text.encode()))

    def write_reference(self, curves, test_labels, queries):
        """Keep what every table shows beside the fits: class-prior curves, test labels, the example queries."""
        document = {"curves": curve_entries({key: [curve] for key, curve in curves.items()}), "examples": queries}
        arrays = {"document": np.array(json.dumps(document))}
        if test_labels is not None:
            arrays["test_labels"] = np.asarray(test_labels)
        write_atomic(self.fits / _REFERENCE, lambda f: np.savez(f, **arrays))

    def read_reference(self):
        """``(curves, test labels or None, example query files or None)``, as :meth:`write_reference` kept them."""
        with np.load(self.fits / _REFERENCE, allow_pickle=False) as saved:
            labels = saved["test_labels"] if "test_labels" in saved.files else None
            document = json.loads(str(saved["document"]))
        curves = {key: curve for key, (curve,) in curves_from_entries(document["curves"]).items()}
        return curves, labels, document["examples"]

    def write(self, record):
        """Keep one finished fit's record (atomically: a reader sees all of it or nothing)."""
        row = record["row"]
        curves = curve_entries({(row["method"], d, k): [c] for (d, k), c in record["curves"].items()})
        arrays = {direction: np.asarray(record["per_query_ap"][direction]) for direction in DIRECTIONS
                  if direction in record["per_query_ap"]}  # each direction's per-query AP, by its name
        arrays["record"] = np.array(json.dumps({"row": row, "curves": curves, "examples": record["examples"]},
                                               default=_json_default))
        write_atomic(self.path(row["method"], row["seed"]), lambda f: np.savez(f, **arrays))

    def read(self, name, seed):
        """The record of one kept fit, or None when that fit is not on disk."""
        path = self.path(name, seed)
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as saved:
            document = json.loads(str(saved["record"]))
            if (document["row"]["method"], document["row"]["seed"]) != (name, seed):
                return None  # another method whose name maps to the same file: not this fit
            per_query_ap = {direction: saved[direction] for direction in DIRECTIONS if direction in saved.files}
        curves = {(d, k): curve for (_, d, k), (curve,) in curves_from_entries(document["curves"]).items()}
        examples = document["examples"]
        if examples is not None:
            examples = [[tuple(pair) for pair in ranked] for ranked in examples]
        return {"row": document["row"], "curves": curves, "per_query_ap": per_query_ap, "examples": examples}
