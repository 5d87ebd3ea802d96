"""ContrastiveTwoTower against regularised CCA on Flickr8k's real captions, and what its groups mask changes.

Table 1 (dev split, the only split settings are read from): the estimator with
its defaults trained with ``groups`` (captions of one image never each other's
negatives) and without them, beside regularised CCA-64 (the dataset's sanity
reference), mean +- std over seeds.

Table 2 (test split, scored once with the defaults): the same estimator
against regularised CCA-64, R@1/5/10 both ways, median rank and rsum, mean +-
std over three seeds, and a paired randomisation test over the test queries
of each direction: per query, the number of cut-offs (1, 5, 10) at which it
is answered, whose mean over queries is that direction's share of rsum.

Before the tables, the training of seed 0 as it went: the loss after each
epoch (a collapsed InfoNCE sits at ln(128) = 4.85), the learned temperature
and each modality's embedding spread on dev (root mean squared distance to
the mean over the mean norm; 0 would be a collapse).

Run: ``python benchmarks/bench_contrastive.py [--smoke]``; features from
``$SKCROSS_DATA`` or ``../shared/datasets`` (``--smoke``: 1,500 training
pairs, 200 dev and test images' captions, 2 epochs, one seed).
"""

import time

import numpy as np
from _utils import find_data_home, parse_args, print_table

from skcross.datasets import load_dataset
from skcross.deep import ContrastiveTwoTower
from skcross.deep._engine import _relative_spread
from skcross.linear import CCA
from skcross.metrics import cross_modal_instance_scores, paired_test

KS = (1, 5, 10)


def first_images(d, split, n_images):
    keep = d[f"groups_{split}"] < n_images
    return d[f"X_img_{split}"][keep], d[f"X_txt_{split}"][keep], d[f"groups_{split}"][keep]


def scores_of(model, split):
    """Instance scores and per-query ranks of ``model`` on ``split`` = (X_img, X_txt, groups)."""
    return cross_modal_instance_scores(model, *split, ks=KS, return_per_query=True)


def row(name, runs, seconds):
    out = {"method": name}
    for direction in ("i2t", "t2i"):
        for k in KS:
            values = [100 * scores[direction][f"R@{k}"] for scores, _ in runs]
            out[f"R@{k} {direction}"] = f"{np.mean(values):.1f} +- {np.std(values):.1f}"
        out[f"medr {direction}"] = f"{np.mean([scores[direction]['medr'] for scores, _ in runs]):.1f}"
    rsums = [100 * scores["rsum"] for scores, _ in runs]
    out["rsum"] = f"{np.mean(rsums):.1f} +- {np.std(rsums):.1f}"
    out["fit s"] = float(np.mean(seconds))
    return out, float(np.mean(rsums))


def hits(per_query, direction):
    """Per query: at how many of the cut-offs 1, 5, 10 it is answered (mean over queries x 1 = the R@k sum)."""
    ranks = per_query[direction]["rank"]
    return sum((ranks <= k).astype(float) for k in KS)


def print_training(model, dev):
    losses = ", ".join(f"{row['train_loss']:.3f}" for row in model.net_.history)
    print(f"seed {model.random_state}, groups masked: train loss by epoch {losses}; temperature 0.07 -> "
          f"{model.temperature_:.4f}; dev embedding spread image {_relative_spread(model.transform_image(dev[0])):.3f}, "
          f"text {_relative_spread(model.transform_text(dev[1])):.3f}")


def fit_timed(model, *args, **kwargs):
    start = time.perf_counter()
    model.fit(*args, **kwargs)
    return model, time.perf_counter() - start


def main():
    args = parse_args(__doc__.splitlines()[0])
    data_home = find_data_home()
    if data_home is None or not (data_home / "flickr8k_effnetlite0_minilm.npz").exists():
        print("skipped: the shared Flickr8k features are not available (set SKCROSS_DATA)")
        return
    d = load_dataset("flickr8k", data_home=data_home, download_if_missing=False)
    train = (d.X_img_train, d.X_txt_train, d.groups_train)
    dev, test = first_images(d, "dev", 1000), first_images(d, "test", 1000)
    seeds, params = [0, 1, 2], {}
    if args.smoke:
        train = (d.X_img_train[:1500], d.X_txt_train[:1500], d.groups_train[:1500])
        dev, test = first_images(d, "dev", 200), first_images(d, "test", 200)
        seeds, params = [0], {"max_epochs": 2}

    cca, cca_s = fit_timed(CCA(64, reg=0.1, scale=False), train[0], train[1])
    dev_rows, test_rows = [], []
    dev_rows.append(row("regularised CCA-64", [scores_of(cca, dev)], [cca_s])[0])
    test_cca = scores_of(cca, test)
    test_runs, test_seconds = [], []
    for with_groups in (True, False):
        runs, seconds = [], []
        for seed in seeds:
            model = ContrastiveTwoTower(verbose=0, random_state=seed, **params)
            model, s = fit_timed(model, train[0], train[1], groups=train[2] if with_groups else None)
            runs.append(scores_of(model, dev))
            seconds.append(s)
            if with_groups:
                test_runs.append(scores_of(model, test))
                test_seconds.append(s)
                if seed == seeds[0]:
                    print_training(model, dev)
        label = "ContrastiveTwoTower, " + ("groups masked" if with_groups else "groups ignored")
        dev_rows.append(row(label, runs, seconds)[0])
    columns = ["method", *[f"R@{k} {d}" for d in ("i2t", "t2i") for k in KS], "medr i2t", "medr t2i", "rsum", "fit s"]
    print_table(dev_rows, columns, title=f"Flickr8k DEV ({len(dev[0])} captions), seeds {seeds}: choosing settings")

    cca_row, cca_rsum = row("regularised CCA-64", [test_cca], [cca_s])
    model_row, model_rsum = row("ContrastiveTwoTower (defaults)", test_runs, test_seconds)
    test_rows += [cca_row, model_row]
    print_table(test_rows, columns, title=f"Flickr8k TEST ({len(test[0])} captions), scored once, seeds {seeds}")
    print(f"\nrsum: {model_rsum:.1f} against {cca_rsum:.1f} ({100 * (model_rsum / cca_rsum - 1):+.1f} %)")
    for direction in ("i2t", "t2i"):
        mean_hits = np.mean([hits(per_query, direction) for _, per_query in test_runs], axis=0)
        p = paired_test(mean_hits, hits(test_cca[1], direction), random_state=0)
        print(f"paired randomisation test over the {len(mean_hits)} {direction} queries (hits at 1/5/10, seed mean "
              f"against CCA): mean {mean_hits.mean():.3f} against {hits(test_cca[1], direction).mean():.3f}, "
              f"p = {p:.4g}")


if __name__ == "__main__":
    main()
