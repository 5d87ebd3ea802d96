"""Helpers shared by the benchmark scripts: timing, peak memory and table printing."""

import argparse
import os
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np


def parse_args(description, extra=()):
    """Parse ``--smoke`` and any ``extra`` flags (names of boolean options)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI: checks the script runs")
    for flag in extra:
        parser.add_argument(f"--{flag}", action="store_true")
    return parser.parse_args()


def find_data_home():
    """The folder of the shared benchmark features: ``$SKCROSS_DATA`` or ``../shared/datasets``; None if absent."""
    for candidate in (os.environ.get("SKCROSS_DATA"), Path(__file__).resolve().parents[2] / "shared" / "datasets"):
        if candidate and (Path(candidate) / "wikipedia_sift128_lda10.npz").exists():
            return Path(candidate)
    return None


def results_path(name, smoke):
    """Where a script writes the file ``name``: ``benchmarks/results``, or a fresh temporary folder for a smoke run,
    so that CI's tiny runs never overwrite a committed result."""
    folder = Path(tempfile.mkdtemp(prefix="skcross-smoke-")) if smoke else Path(__file__).resolve().parent / "results"
    folder.mkdir(exist_ok=True)
    return folder / name


def measure(function, *args, repeat=1, **kwargs):
    """Run ``function``; return (result, best wall time in s, peak traced memory in MiB).

    Peak memory is what Python and NumPy allocate during the call (tracemalloc),
    measured on a separate run so that tracing does not slow the timed runs.
    """
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = function(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    function(*args, **kwargs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, best, peak / 2**20


def print_table(rows, columns, title=None):
    """Print ``rows`` (dicts) as an aligned plain-text table."""
    if title:
        print(f"\n{title}")
    cells = [[_format(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)))


def _format(value):
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def mean_std(values):
    return f"{np.mean(values):.4f} +- {np.std(values):.4f}"


def evaluate(make_model, train, test, seeds, variants=None):
    """Fit ``make_model(seed)`` on ``train`` for each seed and score it on ``test``.

    ``train`` and ``test`` are ``(X_img, X_txt, y)``; ``train``'s ``y`` may be
    None (unsupervised) or ``(y_img, y_txt)``. ``variants`` maps a label to
    parameters set on the fitted model before scoring (e.g. a retrieval
    metric), so one fit serves several rows. Returns ``{label: row}`` with
    mAP@all i2t / t2i / mean as mean +- std over seeds, epochs, fit seconds
    and seconds per epoch.
    """
    from skcross.metrics import cross_modal_map

    variants = variants or {"": {}}
    scores = {label: [] for label in variants}
    seconds, epochs = [], []
    for seed in seeds:
        model = make_model(seed)
        start = time.perf_counter()
        model.fit(*train)
        seconds.append(time.perf_counter() - start)
        epochs.append(getattr(model, "n_epochs_", 0))
        for label, params in variants.items():
            scores[label].append(cross_modal_map(model.set_params(**params), *test))
    rows = {}
    for label in variants:
        row = {key: mean_std([s[key] for s in scores[label]]) for key in ("i2t", "t2i", "mean")}
        row["mean_value"] = float(np.mean([s["mean"] for s in scores[label]]))
        row["epochs"] = f"{np.mean(epochs):.0f}" if epochs[0] else "-"
        row["fit s"] = float(np.mean(seconds))
        row["s/epoch"] = float(np.sum(seconds) / np.sum(epochs)) if epochs[0] else "-"
        rows[label] = row
    return rows
