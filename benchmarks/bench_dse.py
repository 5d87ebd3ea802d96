"""DSE (S, CS, DS) on real features: losses, cosine vs Euclidean, the lambda sweep, unpaired training.

Table 1: DSE-S, DSE-CS and DSE-DS with the paper's defaults (n_components
2048, Adam 1e-3, weight decay 1e-3, batch 32 + 32, at most 400 epochs, lr x 0.1
and early stopping on the training accuracy), each scored with cosine and
Euclidean similarity from the same fit, beside CCA; mean +- std over seeds.
Table 2: lambda sweep of CS and DS over {0, 1e-3, 1e-2, 1e-1, 1} (seed 0), with
a plot when matplotlib is installed (benchmarks/results/dse_lambda.png).
Table 3: DSE-DS trained unpaired (images of one half of the training pairs,
texts of the other half: no pair in common) against paired training on one
half (as many images and texts, with their pairs); all pairs are in Table 1.

Nothing is chosen on the test split: every setting is the paper's default.
Run: ``python benchmarks/bench_dse.py [--smoke] [--part main|lambda|unpaired]``;
features from ``$SKCROSS_DATA`` or ``../shared/datasets``.
"""

import argparse
import sys

import numpy as np
from _utils import evaluate, find_data_home, print_table, results_path

from skcross.datasets import load_dataset
from skcross.deep import DSE, resolve_device
from skcross.linear import CCA

DATASETS = ("wikipedia", "wikipedia_minilm", "cub10")
LAMBDAS = (0.0, 1e-3, 1e-2, 1e-1, 1.0)


def splits(d, smoke):
    train, test = (d.X_img_train, d.X_txt_train, d.y_train), (d.X_img_test, d.X_txt_test, d.y_test)
    if smoke:
        train, test = tuple(a[:160] for a in train), tuple(a[:100] for a in test)
    return train, test


def dse(device, smoke, **params):
    quick = {"n_components": 64, "max_epochs": 2} if smoke else {}
    return lambda seed: DSE(verbose=0, device=device, random_state=seed, **quick, **params)


def main_table(datasets, seeds, device, smoke):
    rows = []
    for name, (train, test) in datasets.items():
        rows.append({"dataset": name, "method": "CCA(10)", **evaluate(lambda s: CCA(10), train[:2] + (None,), test, [0])[""]})
        for loss in ("softmax", "center", "dist_softmax"):
            result = evaluate(dse(device, smoke, loss=loss), train, test, seeds,
                              variants={"cosine": {"metric": "cosine"}, "euclidean": {"metric": "euclidean"}})
            for metric, row in result.items():
                rows.append({"dataset": name, "method": f"DSE {loss} ({metric})", **row})
    print(f"\nTable 1. mAP@all on the test split, mean +- std over seeds {seeds}; device {device}")
    print_table(rows, ["dataset", "method", "i2t", "t2i", "mean", "epochs", "fit s", "s/epoch"])


def lambda_table(datasets, device, smoke):
    rows, curves = [], {}
    for name, (train, test) in datasets.items():
        for loss in ("center", "dist_softmax"):
            for lam in LAMBDAS:
                row = evaluate(dse(device, smoke, loss=loss, lam=lam), train, test, [0])[""]
                rows.append({"dataset": name, "loss": loss, "lambda": lam, **row})
                curves.setdefault((name, loss), []).append(row["mean_value"])
    print("\nTable 2. lambda sweep (seed 0), mAP@all on the test split")
    print_table(rows, ["dataset", "loss", "lambda", "i2t", "t2i", "mean", "epochs", "fit s"])
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot)")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.arange(len(LAMBDAS))
    for (name, loss), values in curves.items():
        ax.plot(x, values, marker="o", label=f"{name} {loss}")
    ax.set_xticks(x, [f"{lam:g}" for lam in LAMBDAS])
    ax.set_xlabel("lambda")
    ax.set_ylabel("mean mAP@all")
    ax.legend(fontsize=7)
    out = results_path("dse_lambda.png", smoke)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    print(f"plot: {out}")


def unpaired_table(datasets, seeds, device, smoke):
    rows = []
    for name, (train, test) in datasets.items():
        X_img, X_txt, y = train
        order = np.random.RandomState(0).permutation(len(y))
        a, b = np.sort(order[: len(y) // 2]), np.sort(order[len(y) // 2 :])
        setups = {
            "unpaired: images of half A, texts of half B": (X_img[a], X_txt[b], (y[a], y[b])),
            "paired: half A": (X_img[a], X_txt[a], y[a]),
        }
        for setup, data in setups.items():
            row = evaluate(dse(device, smoke, loss="dist_softmax"), data, test, seeds)[""]
            rows.append({"dataset": name, "training": setup, **row})
    print(f"\nTable 3. DSE-DS unpaired vs paired, mAP@all on the test split, seeds {seeds}")
    print_table(rows, ["dataset", "training", "i2t", "t2i", "mean", "epochs", "fit s"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI: checks the script runs")
    parser.add_argument("--part", choices=["main", "lambda", "unpaired", "all"], default="all")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    args = parser.parse_args()
    data_home = find_data_home()
    if data_home is None:
        print("skipped: the shared datasets were not found in $SKCROSS_DATA or ../shared/datasets")
        return 0
    device = resolve_device("auto")
    names = args.datasets[:1] if args.smoke else args.datasets
    datasets = {n: splits(load_dataset(n, data_home=data_home, download_if_missing=False), args.smoke) for n in names}
    seeds = [0] if args.smoke else [0, 1, 2]
    if args.part in ("main", "all"):
        main_table(datasets, seeds, device, args.smoke)
    if args.part in ("lambda", "all"):
        lambda_table(datasets, device, args.smoke)
    if args.part in ("unpaired", "all"):
        unpaired_table(datasets, seeds, device, args.smoke)
    return 0


if __name__ == "__main__":
    sys.exit(main())
