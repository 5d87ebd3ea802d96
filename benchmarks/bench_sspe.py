"""SSPE against CCA, ml-CCA and DSCMR; its alpha and width sweeps; and its cost as n grows.

Part "main": mAP@all (both directions, mean +- std over seeds) on multi-label
synthetic data (relevance = at least one shared label) and on the shared
single-label features (Wikipedia LDA and MiniLM text, CUB), SSPE with the
paper's settings beside CCA, ml-CCA (both with their defaults) and DSCMR
(its defaults; ``--dscmr-seeds``, 1 by default, because its 500 epochs take
minutes per fit on a CPU).
Part "sweep": alpha1 and alpha2 over {0, 0.2, ..., 1} (the other fixed at
0.1) and the embedding width (the paper's Figures 5-6), on the synthetic
multi-label data; a table, and a plot when matplotlib is installed
(``--plot``). Part "scale": synthetic multi-label data with 10k, 50k and
200k pairs and a fixed number of updates (5 rounds x 200 batches): graph
building time, time per 1,000 batches, the rest of the fit ("other s":
sampling, normalisation, the net's set-up per round) and peak memory, each
size in a fresh process; memory's slope in n.

Nothing is chosen on the test split. Run:
``python benchmarks/bench_sspe.py [--smoke] [--part main sweep scale] [--seeds 3]``.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np
from _utils import evaluate, find_data_home, print_table

from skcross.datasets import load_dataset, make_cross_modal
from skcross.deep import DSCMR, SSPE, resolve_device
from skcross.linear import CCA, MLCCA
from skcross.metrics import cross_modal_map

REAL = ("wikipedia", "wikipedia_minilm", "cub10")
COLUMNS = ["dataset", "method", "i2t", "t2i", "mean", "fit s", "seeds"]


def synthetic(n_train, n_test, seed=0):
    """Multi-label synthetic pairs (20 tag-like labels, 1 to 4 per pair), split into train and test."""
    X_img, X_txt, Y = make_cross_modal(
        n_train + n_test, n_classes=20, multilabel=True, n_labels=4, random_state=seed
    )
    split = lambda part: tuple(a[part] for a in (X_img, X_txt, Y))  # noqa: E731
    return split(slice(0, n_train)), split(slice(n_train, None))


def main_part(args, device):
    rows = []
    datasets = [("synthetic-ml",) + synthetic(*((400, 200) if args.smoke else (4000, 2000)))]
    data_home = find_data_home()
    if data_home is None:
        print("the shared datasets were not found in $SKCROSS_DATA or ../shared/datasets: synthetic data only")
    else:
        for name in REAL[:1] if args.smoke else REAL:
            d = load_dataset(name, data_home=data_home, download_if_missing=False)
            datasets.append((name, (d.X_img_train, d.X_txt_train, d.y_train), (d.X_img_test, d.X_txt_test, d.y_test)))
    seeds = [0] if args.smoke else list(range(args.seeds))
    quick = {"n_rounds": 1, "n_batches_per_round": 20} if args.smoke else {}
    for name, train, test in datasets:
        if args.smoke:
            train, test = tuple(a[:300] for a in train), tuple(a[:100] for a in test)
        for label, make in [
            ("CCA", lambda seed: CCA()),
            ("ml-CCA", lambda seed: MLCCA()),
            ("SSPE", lambda seed: SSPE(device=device, random_state=seed, **quick)),
            ("DSCMR", lambda seed: DSCMR(device=device, verbose=0, random_state=seed, **({"max_epochs": 2} if args.smoke else {}))),
        ]:
            runs = {"CCA": seeds[:1], "ml-CCA": seeds[:1], "DSCMR": seeds[: args.dscmr_seeds]}.get(label, seeds)
            if not runs:
                continue
            row = evaluate(make, train, test, runs)[""]
            row["seeds"] = len(runs)
            rows.append({"dataset": name, "method": label, **row})
            print_table(rows[-1:], COLUMNS)
    print_table(rows, COLUMNS, title="SSPE vs baselines, test mAP@all (mean +- std over the seeds shown)")


def sweep_part(args, device):
    train, test = synthetic(*((400, 200) if args.smoke else (4000, 2000)))
    quick = {"n_rounds": 1, "n_batches_per_round": 20} if args.smoke else {}
    values = [0.0, 0.4, 1.0] if args.smoke else [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    widths = [8, 32] if args.smoke else [8, 16, 32, 64, 128]
    rows, curves = [], {}

    def score(params, seed=0):
        try:
            model = SSPE(device=device, random_state=seed, **quick, **params).fit(*train)
        except FloatingPointError as exc:  # the engine's NaN guard: reported, never a NaN model
            return float("nan"), f"diverged: {exc}"
        return cross_modal_map(model, *test)["mean"], ""

    for parameter in ("alpha1", "alpha2"):
        for value in values:
            other = "alpha2" if parameter == "alpha1" else "alpha1"
            mean, note = score({parameter: value, other: 0.1})
            rows.append({"parameter": parameter, "value": value, "mean mAP": mean, "note": note})
            curves.setdefault(parameter, []).append((value, mean))
            print_table(rows[-1:], ["parameter", "value", "mean mAP", "note"])
    references = {
        "CCA": lambda k: CCA(k),
        "ml-CCA": lambda k: MLCCA(k),
    }
    for width in widths:
        mean, note = score({"n_components": width})
        row = {"parameter": "n_components", "value": width, "mean mAP": mean, "note": note}
        for label, make in references.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # widths beyond the rank are clipped
                row[label] = cross_modal_map(make(width).fit(*train), *test)["mean"]
        rows.append(row)
        curves.setdefault("n_components", []).append((width, mean, row["CCA"], row["ml-CCA"]))
        print_table(rows[-1:], ["parameter", "value", "mean mAP", "CCA", "ml-CCA", "note"])
    print_table(rows, ["parameter", "value", "mean mAP", "CCA", "ml-CCA", "note"],
                title="SSPE sweeps on synthetic multi-label data (test mAP@all, mean of both directions, seed 0)")
    if args.plot:
        plot_sweeps(curves, args.plot)


def plot_sweeps(curves, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot")
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    for parameter in ("alpha1", "alpha2"):
        x, y = zip(*curves[parameter])
        left.plot(x, y, marker="o", label=parameter)
    left.set(xlabel="value (the other alpha = 0.1)", ylabel="mean mAP@all", title="SSPE: alpha1 / alpha2")
    left.legend()
    x, sspe, cca, mlcca = zip(*curves["n_components"])
    for values, label in ((sspe, "SSPE"), (cca, "CCA"), (mlcca, "ml-CCA")):
        right.plot(x, values, marker="o", label=label)
    right.set(xscale="log", xlabel="embedding width", title="width")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


def scale_one(n, device, n_batches):
    """Fit SSPE once on n synthetic pairs in this process; return its costs as a dict."""
    X_img, X_txt, Y = make_cross_modal(n, n_classes=20, multilabel=True, n_labels=4, random_state=0)
    X_img, X_txt = X_img.astype(np.float32), X_txt.astype(np.float32)
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model = SSPE(n_batches_per_round=n_batches, device=device, random_state=0)
    tracemalloc.start()
    start = time.perf_counter()
    model.fit(X_img, X_txt, Y)
    seconds = time.perf_counter() - start
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    train_seconds = sum(model.net_.history[:, "dur"])
    return {
        "n": n,
        "graph s": model.graph_seconds_,
        "fit s": seconds,
        "s / 1000 batches": 1000 * train_seconds / model.n_batches_,
        "other s": seconds - model.graph_seconds_ - train_seconds,
        "batches": model.n_batches_,
        "peak RSS MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "RSS before fit MiB": rss_data,
        "traced peak MiB": traced / 2**20,
    }


def scale_part(args, device):
    sizes = [2000, 4000] if args.smoke else [10_000, 50_000, 200_000]
    n_batches = 20 if args.smoke else 200
    rows = []
    for n in sizes:  # a fresh process per size: its peak resident memory is this size's alone
        out = subprocess.run(
            [sys.executable, __file__, "--scale-one", str(n), "--batches", str(n_batches)],
            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print_table(rows[-1:], list(rows[-1]))
    print_table(rows, list(rows[0]), title=f"SSPE cost on synthetic multi-label data (5 rounds x {n_batches} batches)")
    n = np.array([row["n"] for row in rows], dtype=float)
    for key in ("peak RSS MiB", "traced peak MiB"):
        slope, intercept = np.polyfit(n, [row[key] for row in rows], 1)
        print(f"{key}: {1e4 * slope:.1f} MiB per 10,000 pairs (intercept {intercept:.0f} MiB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI: checks the script runs")
    parser.add_argument("--part", nargs="+", default=["main", "sweep", "scale"], choices=["main", "sweep", "scale"])
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (0, 1, ...)")
    parser.add_argument("--dscmr-seeds", type=int, default=1,
                        help="seeds for the DSCMR reference (its 500 epochs take minutes per fit on a CPU; 0 skips it)")
    parser.add_argument("--plot", default=None, help="write the sweep plot to this PNG file")
    parser.add_argument("--scale-one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--batches", type=int, default=200, help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = resolve_device("auto")
    if args.scale_one is not None:
        print(json.dumps(scale_one(args.scale_one, device, args.batches)))
        return 0
    print(f"device: {device}")
    for part in args.part:
        {"main": main_part, "sweep": sweep_part, "scale": scale_part}[part](args, device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
