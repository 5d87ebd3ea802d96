"""The CUDA path on a real GPU: its tests, every deep method's fit on CUDA against the CPU, evaluation at scale.

On a machine with CUDA, one command (at most about 8 minutes):

1. runs ``tests/test_cuda.py`` (fit on CUDA and predict on the CPU after
   pickle and ``save_params`` round trips, ``device="cuda:0"``, the NaN guard
   and a real out-of-memory failure on the device, mixed-device evaluation);
2. fits DCCA, DSCMR, DSE, UNCSM and SSPE with their defaults (seed 0) on the
   shared CUB-10 and Wikipedia features on CUDA and, at the same time in
   worker processes, on the CPU of the same machine: fit seconds, seconds per
   epoch, peak GPU memory, mAP@all both ways and the CUDA - CPU difference,
   set beside the seed-to-seed spread of the committed 3-seed results (with
   the same seed both start from the same weights and batches, but dropout
   masks are drawn on the device and sums run in another order, differences
   that grow over hundreds of epochs: within about that spread is noise;
   beyond three times it, "CHECK");
3. times ``cross_modal_map`` at 100,000 x 100,000 with ``device="cuda"``
   against the CPU path, UNCSM's learned similarity at 5,000 x 5,000 (CPU
   reference on the first 1,000 x 1,000) and an exact ``CrossModalIndex``
   top-10 search of 10,000 queries over 1,000,000 items on the GPU (CPU
   reference on the first 1,000 queries); values compared with the CPU's;
4. writes ``results.md``, ``fits.csv``, ``scale.csv``, ``tests.txt`` and
   ``protocol.json`` (machine, GPU, driver, torch and CUDA versions, the
   command) to ``benchmarks/results/gpu/``.

Without CUDA (or with ``--smoke``) it says so and dry-runs every step on the
CPU at small sizes (the fits on Wikipedia only) into a temporary folder, then
exits 0: CI runs it so, and it never goes stale.

A bare GPU machine (Python with a CUDA build of torch, NumPy, SciPy and
scikit-learn; no skorch and no package index) needs skorch as a wheel and
the shared features beside the checkout. Here, in the repository root::

    python -m pip download --no-deps --only-binary=:all: -d .whl skorch==1.4.0
    cp -r ../shared/datasets .gpu-data
    printf '/.whl/\\n/.gpu-data/\\n' >> .git/info/exclude

then take ``.whl`` and ``.gpu-data`` along and run there, from the
repository root::

    python3 benchmarks/bench_gpu.py --wheels .whl --data-home .gpu-data

(skorch's own needs, tqdm and tabulate, are pure Python too: download them
the same way if that machine lacks them). skcross itself is imported from
the checkout; SSM-AL (scikit-learn-extra) is not run.

Run: ``python benchmarks/bench_gpu.py [--smoke] [--wheels DIR] [--data-home DIR] [--output DIR]``
"""

import argparse
import copy
import csv
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the scripts' shared helpers (also when imported)
from _utils import print_table  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEEP_METHODS = ("DCCA", "DSCMR", "DSE", "UNCSM", "SSPE")
FULL = {"quick": False, "map_n": 100_000, "uncsm_fit_n": 2_000, "uncsm_n": 5_000, "uncsm_cpu_n": 1_000,
        "index_items": 1_000_000, "index_queries": 10_000, "index_cpu_queries": 1_000}
# A dry run checks that every step runs: small sizes, and the fits on the first dataset only
DRY = {"quick": True, "fit_rows": (150, 60), "fit_datasets": 1, "map_n": 2_000, "uncsm_fit_n": 300, "uncsm_n": 300,
       "uncsm_cpu_n": 300, "index_items": 20_000, "index_queries": 200, "index_cpu_queries": 200}
WHEEL_HOWTO = ("bring it as a wheel: here, `python -m pip download --no-deps --only-binary=:all: -d .whl "
               "skorch==1.4.0`; there, `python3 benchmarks/bench_gpu.py --wheels .whl` (see this script's docstring)")


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes on the CPU even where CUDA is present")
    parser.add_argument("--wheels", type=Path, help="folder of pure-Python wheels (skorch) to import from")
    parser.add_argument("--data-home", type=Path, help="folder of the shared features (CUB-10); "
                        "default $SKCROSS_DATA or ../shared/datasets")
    parser.add_argument("--output", type=Path, help="results folder (default: benchmarks/results/gpu on CUDA, "
                        "a temporary folder for a dry run)")
    parser.add_argument("--cpu-threads", type=int, default=None,
                        help="torch threads of each CPU reference fit (default: the usable CPUs shared evenly "
                             "between the reference-fit workers and this process)")
    return parser


def bootstrap(wheels):
    """Make skcross (from this checkout) and the wheels in ``wheels`` importable; return what is missing."""
    if wheels is not None:
        if not wheels.is_dir():
            raise SystemExit(f"--wheels {str(wheels)!r} is not a folder; {WHEEL_HOWTO}")
        for wheel in sorted(wheels.glob("*.whl")):
            if not wheel.name.endswith("-none-any.whl"):
                raise SystemExit(f"--wheels: {wheel.name} is not a pure-Python wheel (*-none-any.whl); "
                                 "only those can be imported without installing")
            sys.path.insert(0, str(wheel))
    try:
        import skcross  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(REPO))
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)  # the pytest and worker processes
    missing = []
    for module in ("numpy", "scipy", "sklearn", "torch", "skorch"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    return missing


def environment(cuda):
    import sklearn
    import torch

    import skcross

    info = {"python": platform.python_version(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "torch": torch.__version__, "torch CUDA": torch.version.cuda, "numpy": np.__version__,
            "scikit-learn": sklearn.__version__, "skcross": skcross.__version__}
    try:
        import skorch

        info["skorch"] = skorch.__version__
    except ImportError:
        pass
    if cuda:
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu memory GiB"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
        info["cudnn"] = torch.backends.cudnn.version()
        try:
            smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=30)
            info["driver"] = smi.stdout.strip() or smi.stderr.strip()
        except (OSError, subprocess.SubprocessError) as error:
            info["driver"] = f"nvidia-smi failed: {error}"
    return info


# --------------------------------------------------------------------------- step 1: the CUDA tests
def run_cuda_tests(output):
    command = [sys.executable, "-m", "pytest", "tests/test_cuda.py", "-q", "-rs", "-p", "no:cacheprovider",
               "-W", "ignore::sklearn.exceptions.ConvergenceWarning"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    (output / "tests.txt").write_text(" ".join(command) + "\n\n" + done.stdout + done.stderr)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-300:]
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|error)", summary)}
    row = {"command": "python -m pytest tests/test_cuda.py", "passed": counts.get("passed", 0),
           "failed": counts.get("failed", 0) + counts.get("error", 0), "skipped": counts.get("skipped", 0),
           "seconds": seconds, "exit": done.returncode}
    print_table([row], list(row), title="1. tests/test_cuda.py")
    if done.returncode not in (0, 5):
        print(done.stdout[-4000:])
    return row


# --------------------------------------------------------------------------- step 2: fits, CUDA against CPU
def load_datasets(data_home, sizes):
    """Wikipedia (bundled) and CUB-10 (from ``data_home``); a dry run keeps a random subset of each split."""
    from skcross.datasets import load_dataset, load_wikipedia

    datasets = {"wikipedia": load_wikipedia()}
    if data_home is not None and (data_home / "cub10_googlenet1024_doc2vec300.npz").exists():
        datasets["cub10"] = load_dataset("cub10", data_home=data_home)
    else:
        print(f"CUB-10 skipped: its features are not in {data_home} (pass --data-home)")
    if sizes.get("fit_rows"):
        rng = np.random.default_rng(0)
        for name, data in datasets.items():
            subset = dict(data)
            for split, n in zip(("train", "test"), sizes["fit_rows"]):
                keep = np.sort(rng.choice(len(data[f"y_{split}"]), size=n, replace=False))
                for key in ("X_img", "X_txt", "y"):
                    subset[f"{key}_{split}"] = data[f"{key}_{split}"][keep]
            datasets[name] = subset
    if sizes.get("fit_datasets"):
        datasets = dict(list(datasets.items())[: sizes["fit_datasets"]])
    return datasets


def fit_one(dataset_name, dataset, method, device, quick, threads=None):
    """Fit ``method`` (defaults, seed 0) on ``dataset``; the benchmark's run row."""
    import torch

    from skcross.benchmark import run_benchmark

    if threads:
        torch.set_num_threads(threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a failure is kept in the row's "error"
        warnings.showwarning = lambda *args, **kwargs: None  # a collapsed stage is kept in the row's "warnings"
        result = run_benchmark(dataset, methods=[method], seeds=[0], device=device, quick=quick, progress=False,
                               dataset_name=dataset_name)
    return result.runs[0]


def seed_spread(dataset_name, method):
    """Standard deviation over seeds of the committed CPU results (mean of both directions), or None."""
    path = REPO / "benchmarks" / "results" / dataset_name / "summary.csv"
    if not path.exists():
        return None
    for row in csv.DictReader(path.open()):
        if row["method"] == method and row.get("map_i2t_std"):
            return (float(row["map_i2t_std"]) + float(row["map_t2i_std"])) / 2
    return None


def cpu_fit_workers(n_jobs, cpu_threads=None):
    """(workers, threads each) for the CPU reference fits: threads = usable CPUs / (workers + this process)."""
    from skcross.utils._threads import usable_cpus

    usable = usable_cpus()
    workers = max(1, min(n_jobs, usable // (cpu_threads or 2) - 1))  # one share of the CPUs left to this process
    return workers, cpu_threads or max(1, usable // (workers + 1))


def compare_fits(datasets, device, sizes, cpu_threads):
    jobs = [(name, method) for name in datasets for method in DEEP_METHODS]
    workers, cpu_threads = cpu_fit_workers(len(jobs), cpu_threads)
    rows = []
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        on_cpu = {job: pool.submit(fit_one, job[0], datasets[job[0]], job[1], "cpu", sizes["quick"], cpu_threads)
                  for job in jobs}
        on_device = {job: fit_one(job[0], datasets[job[0]], job[1], device, sizes["quick"]) for job in jobs}
        on_cpu = {job: future.result() for job, future in on_cpu.items()}
    for job in jobs:
        gpu, cpu = on_device[job], on_cpu[job]
        row = {"dataset": job[0], "method": job[1], "epochs": gpu.get("epochs")}
        if "error" in gpu or "error" in cpu:
            row["error"] = gpu.get("error") or cpu.get("error")
            rows.append(row)
            continue
        spread = seed_spread(*job) if not sizes["quick"] else None
        delta = (gpu["map_i2t"] + gpu["map_t2i"] - cpu["map_i2t"] - cpu["map_t2i"]) / 2
        per_epoch = {side: r["fit_s"] / r["epochs"] if r.get("epochs") else float("nan")
                     for side, r in (("gpu", gpu), ("cpu", cpu))}
        tag = device if device != "cpu" else "device"  # a dry run's stand-in device is the CPU too
        row.update({
            f"{tag} fit s": gpu["fit_s"], "cpu fit s": cpu["fit_s"], "speed-up": cpu["fit_s"] / gpu["fit_s"],
            f"{tag} s/epoch": per_epoch["gpu"], "cpu s/epoch": per_epoch["cpu"],
            "peak GPU MiB": gpu.get("peak_gpu_mib", float("nan")),
            f"{tag} i2t": gpu["map_i2t"], "cpu i2t": cpu["map_i2t"],
            f"{tag} t2i": gpu["map_t2i"], "cpu t2i": cpu["map_t2i"], "mean diff": delta,
            "seed std": spread if spread is not None else float("nan"),
            "verdict": ("noise" if spread is not None and abs(delta) <= 3 * max(spread, 0.005)
                        else "CHECK" if spread is not None else "-"),
            "warnings": "; ".join(w for w in (gpu.get("warnings"), cpu.get("warnings")) if w)[:60],
        })
        rows.append(row)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    print_table(rows, columns, title=f"2. deep methods, defaults, seed 0: {device} against the CPU "
                f"({workers} CPU fits at a time, {cpu_threads} torch threads each, beside the {device} fits)")
    return rows, f"{workers} at a time, {cpu_threads} torch threads each"


# --------------------------------------------------------------------------- step 3: evaluation at scale
def _synchronize(device):
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _timed(on, function, *args, **kwargs):
    """``function(*args, **kwargs)`` timed with the device ``on`` synchronised; (result, seconds, peak GPU MiB)."""
    import torch

    _synchronize(on)
    if str(on).startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    result = function(*args, **kwargs)
    _synchronize(on)
    peak = torch.cuda.max_memory_allocated() / 2**20 if str(on).startswith("cuda") else float("nan")
    return result, time.perf_counter() - start, peak


def on_cpu(model):
    """A copy of a fitted deep model whose networks live on the CPU (the same weights)."""
    from skorch import NeuralNet

    model = copy.deepcopy(model)
    model.device_ = "cpu"
    for value in vars(model).values():
        if isinstance(value, NeuralNet):
            value.device = "cpu"
            value.module_.to("cpu")
            value.criterion_.to("cpu")
    return model


def scale(device, sizes):
    from sklearn.exceptions import ConvergenceWarning

    from skcross.datasets import make_cross_modal
    from skcross.deep import UNCSM
    from skcross.linear import CCA
    from skcross.metrics import cross_modal_map
    from skcross.retrieval import CrossModalIndex
    from skcross.utils._testing import few_iterations_params

    rows = []
    tag = device if device != "cpu" else "device"  # a dry run's stand-in device is the CPU too
    n = sizes["map_n"]
    X_img, X_txt, y = make_cross_modal(n + 5000, n_classes=20, n_features_image=128, n_features_text=64, n_latent=64,
                                       random_state=0)
    X_img, X_txt = X_img.astype(np.float32), X_txt.astype(np.float32)
    model = CCA(64).fit(X_img[:5000], X_txt[:5000])
    test = X_img[5000:], X_txt[5000:], y[5000:]
    fast, fast_s, peak = _timed(device, cross_modal_map, model, *test, device=device)
    slow, slow_s, _ = _timed("cpu", cross_modal_map, model, *test, n_jobs=os.cpu_count())
    rows.append({"task": f"cross_modal_map {n:,} x {n:,} (64-d CCA)", f"{tag} s": fast_s,
                 "cpu s": slow_s, "cpu path": f"NumPy, n_jobs={os.cpu_count()}", "speed-up": slow_s / fast_s,
                 "peak GPU MiB": peak,
                 "max |diff|": max(abs(fast[key] - slow[key]) for key in ("i2t", "t2i"))})
    del X_img, X_txt, test

    m, m_cpu, fit_n = sizes["uncsm_n"], sizes["uncsm_cpu_n"], sizes["uncsm_fit_n"]
    X_img, X_txt, y = make_cross_modal(fit_n + m, n_classes=10, random_state=1)
    uncsm = UNCSM(device=device)
    with warnings.catch_warnings():  # a short fit, only to time the metric network: its quality is not scored
        warnings.simplefilter("ignore", ConvergenceWarning)
        uncsm.set_params(**few_iterations_params(uncsm, fit_n, iterations=50), device=device).fit(
            X_img[:fit_n], X_txt[:fit_n], y[:fit_n])
    Q, G = X_img[fit_n:], X_txt[fit_n:]
    S, fast_s, peak = _timed(device, uncsm.similarity, Q, G)
    S_cpu, slow_s, _ = _timed("cpu", on_cpu(uncsm).similarity, Q[:m_cpu], G[:m_cpu])
    rows.append({"task": f"UNCSM metric similarity {m:,} x {m:,}", f"{tag} s": fast_s,
                 "cpu s": slow_s * (m / m_cpu) ** 2, "cpu path": f"torch CPU, {m_cpu:,} x {m_cpu:,} timed, scaled",
                 "speed-up": slow_s * (m / m_cpu) ** 2 / fast_s, "peak GPU MiB": peak,
                 "max |diff|": float(np.max(np.abs(np.asarray(S)[:m_cpu, :m_cpu] - S_cpu)))})

    items, queries, q_cpu = sizes["index_items"], sizes["index_queries"], sizes["index_cpu_queries"]
    X_img, X_txt, _ = make_cross_modal(items + queries, n_classes=50, n_features_image=96, n_features_text=64,
                                       n_latent=64, random_state=2)
    queries_img, gallery = X_img[:queries].astype(np.float32), X_txt[queries:].astype(np.float32)
    del X_img, X_txt
    cca = CCA(64).fit(queries_img, gallery[:queries])
    index = CrossModalIndex(cca, device=device).add(gallery, modality="text")
    (scores, ids), fast_s, peak = _timed(device, index.search, queries_img, k=10)
    cpu_index = CrossModalIndex(cca, device="cpu").add(gallery, modality="text")
    (scores_cpu, ids_cpu), slow_s, _ = _timed("cpu", cpu_index.search, queries_img[:q_cpu], k=10)
    rows.append({"task": f"exact index top-10, {queries:,} queries x {items:,} items", f"{tag} s": fast_s,
                 "cpu s": slow_s * queries / q_cpu, "cpu path": f"torch CPU, {q_cpu:,} queries timed, scaled",
                 "speed-up": slow_s * queries / q_cpu / fast_s, "peak GPU MiB": peak,
                 "max |diff|": float(np.max(np.abs(scores[:q_cpu] - scores_cpu))),
                 "same ids": float(np.mean(ids[:q_cpu] == ids_cpu))})
    print_table(rows, list(dict.fromkeys(key for row in rows for key in row)),
                title=f"3. evaluation at scale: {device} against the CPU")
    return rows


# --------------------------------------------------------------------------- output
def markdown_table(rows):
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cell = lambda v: f"{v:.4f}" if isinstance(v, float) and abs(v) < 100 else (  # noqa: E731
        f"{v:.1f}" if isinstance(v, float) else str(v))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def write_csv(path, rows):
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)


def main(argv=None):
    args = _parser().parse_args(argv)
    missing = bootstrap(args.wheels)
    if missing:
        hint = f"; {WHEEL_HOWTO}" if missing == ["skorch"] else ""
        raise SystemExit(f"bench_gpu needs {', '.join(missing)}, not importable here{hint}")
    import torch

    cuda = torch.cuda.is_available() and not args.smoke
    if not torch.cuda.is_available():
        why = "torch is a CPU build" if torch.version.cuda is None else "no CUDA device is visible"
        print(f"CUDA is not available ({why}): a dry run of every step on the CPU at small sizes; "
              "no GPU numbers are measured.")
    elif args.smoke:
        print("--smoke: a dry run of every step on the CPU at small sizes.")
    device, sizes = ("cuda", FULL) if cuda else ("cpu", DRY)
    output = args.output or (REPO / "benchmarks" / "results" / "gpu" if cuda
                             else Path(tempfile.mkdtemp(prefix="bench_gpu_dry_run_")))
    output.mkdir(parents=True, exist_ok=True)
    data_home = args.data_home or Path(os.environ.get("SKCROSS_DATA", REPO.parent / "shared" / "datasets"))
    start, seconds = time.perf_counter(), {}
    tests = run_cuda_tests(output)
    seconds["tests"] = time.perf_counter() - start
    datasets = load_datasets(data_home, sizes)
    fits, cpu_fits = compare_fits(datasets, device, sizes, args.cpu_threads)
    seconds["fits"] = time.perf_counter() - start - seconds["tests"]
    scale_rows = scale(device, sizes)
    seconds["scale"] = time.perf_counter() - start - seconds["tests"] - seconds["fits"]
    protocol = {
        "command": "python benchmarks/bench_gpu.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "dry run": not cuda, "device": device, "sizes": sizes, "seconds": seconds,
        "cpu reference fits": f"{cpu_fits}, beside the {device} fits",
        "datasets": {name: f"{len(d['y_train'])} training / {len(d['y_test'])} test pairs"
                     for name, d in datasets.items()},
        **environment(cuda),
    }
    write_csv(output / "fits.csv", fits)
    write_csv(output / "scale.csv", scale_rows)
    (output / "protocol.json").write_text(json.dumps(protocol, indent=2) + "\n")
    report = [f"# skcross on {protocol.get('gpu', 'the CPU (dry run)')}", "",
              f"> Command: {protocol['command']}", f"> Date: {protocol['date']}; "
              f"torch {protocol['torch']} (CUDA {protocol['torch CUDA']}), driver {protocol.get('driver', '-')}",
              "", "## 1. tests/test_cuda.py", "", markdown_table([tests]), "",
              "## 2. Deep methods, defaults, seed 0", "", f"CPU reference: {protocol['cpu reference fits']}.", "",
              markdown_table(fits), "", "## 3. Evaluation at scale", "", markdown_table(scale_rows), ""]
    (output / "results.md").write_text("\n".join(report))
    print("\nsteps: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items())
          + f"; wrote {output}/results.md, fits.csv, scale.csv, tests.txt, protocol.json")
    failed = tests["failed"] or any("error" in row for row in fits)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
