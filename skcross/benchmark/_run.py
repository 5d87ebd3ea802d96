"""Fitting every method on one dataset and measuring it: the benchmark's engine."""

import contextlib
import hashlib
import operator
import os
import platform
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold, ParameterGrid, StratifiedKFold

from ..metrics import (
    Statistic,
    class_prior_similarity,
    cross_modal_instance_scores,
    get_scorer,
    instance_retrieval_scores,
    mean_average_precision,
    random_precision,
    rank_both_ways,
    rank_queries,
)
from ..plotting import query_rows, top_captions
from ..utils._device import resolve_device
from ._isolation import ChildProcess, InProcess
from ._methods import METHODS, available_methods
from ._store import DIRECTIONS, FitStore

__all__ = ["BenchmarkResult", "assemble", "run_benchmark"]

MAP_AT = 50
PRECISION_AT = 10
QUICK_TRAIN, QUICK_TEST = 600, 300
SCORES = [f"{measure}_{d}" for measure in ("map", f"map@{MAP_AT}", f"p@{PRECISION_AT}") for d in DIRECTIONS]
BALANCED = [f"balanced_map_{d}" for d in DIRECTIONS]  # mAP@all averaged over query classes
RECALL_AT = (1, 5, 10)
N_EXAMPLES, N_EXAMPLE_CAPTIONS = 3, 5  # the qualitative figure: image queries, captions shown per method
# instance retrieval (several texts per image; relevant = the same image): map_* is then the instance mAP
INSTANCE_SCORES = ([f"r@{k}_{d}" for d in DIRECTIONS for k in RECALL_AT] + [f"{m}_{d}" for m in ("medr", "meanr")
                   for d in DIRECTIONS] + ["rsum", "map_i2t", "map_t2i"])
COSTS = ["fit_s", "inference_s", "peak_mib", "peak_gpu_mib"]
# what each direction of a class-level run is scored by: one ranking of the test split per direction
CLASS_STATISTICS = (Statistic("ap"), Statistic("ap", MAP_AT), Statistic("hits", PRECISION_AT), Statistic("scope"),
                    Statistic("pr"))
PRIOR = "class prior"  # the name of the query-independent ranking's curves


@contextlib.contextmanager
def peak_memory():
    """Measure the peak memory of the enclosed code, in MiB, into the yielded dict's ``"MiB"``.

    On Linux the process's peak resident set size is reset before and read
    after (``/proc/self/clear_refs``, ``VmHWM``): everything the process holds,
    NumPy, torch's CPU tensors and the libraries included. Elsewhere,
    tracemalloc's peak of Python and NumPy allocations (torch's own CPU
    allocations are then not counted); ``"how"`` says which.
    """
    record = {"MiB": float("nan"), "how": "tracemalloc"}
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        record["how"] = "peak RSS"
    except OSError:
        tracemalloc.start()
    try:
        yield record
    finally:
        if record["how"] == "peak RSS":
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        record["MiB"] = int(line.split()[1]) / 1024
        else:
            record["MiB"] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()


def _gpu_peak_reset(device):
    if not str(device).startswith("cuda"):
        return None
    import torch

    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    return torch


def _subsample(rng, y, size):
    """Row indices of a class-stratified random subset of ``size`` rows (all rows when fewer)."""
    n = len(y)
    if size >= n:
        return np.arange(n)
    if np.ndim(y) == 1:
        from sklearn.model_selection import train_test_split

        keep, _ = train_test_split(np.arange(n), train_size=size, stratify=y, random_state=rng)
        return np.sort(keep)
    return np.sort(rng.choice(n, size=size, replace=False))  # multi-label: uniform


def _subsample_images(rng, groups, size):
    """Row indices of all the pairs of randomly chosen images, at most ``size`` pairs (all rows when fewer)."""
    groups = np.asarray(groups)
    if size >= len(groups):
        return np.arange(len(groups))
    images, counts = np.unique(groups, return_counts=True)
    order = rng.permutation(len(images))
    kept = images[order][np.cumsum(counts[order]) <= size]
    return np.flatnonzero(np.isin(groups, kept))


def _quick_rows(rng, y, groups, size):
    """``--quick``'s rows of a split: class-stratified pairs, or the pairs of whole images when there are groups."""
    return _subsample(rng, y, size) if groups is None else _subsample_images(rng, groups, size)


def _cv_splitter(y, n_splits, seed, groups=None):
    if groups is not None:  # an image's texts stay in one fold
        from sklearn.model_selection import GroupKFold

        return GroupKFold(n_splits, shuffle=True, random_state=seed)
    if np.ndim(y) == 1:
        return StratifiedKFold(n_splits, shuffle=True, random_state=seed)
    return KFold(n_splits, shuffle=True, random_state=seed)


@dataclass
class BenchmarkResult:
    """What :func:`run_benchmark` measured.

    Attributes
    ----------
    runs : list of dict
        One row per method and seed: the scores (``map_i2t``, ``map_t2i``,
        ``map@50_i2t``, ..., ``p@10_t2i``), ``fit_s``, ``inference_s`` (embedding
        the test split, its similarities and ranking both directions:
        :func:`~skcross.metrics.rank_both_ways`, for both kinds of run),
        ``peak_mib`` (and ``peak_gpu_mib`` on a GPU), ``selected`` (the
        parameters chosen by ``--select cv``), ``warnings`` (the fit's
        ``ConvergenceWarning`` messages, e.g. a collapsed stage) or ``error``.
    curves : dict
        ``(method, direction, "pr" | "scope")`` -> list of curves, one per
        seed; the query-independent ranking's curves under the method name
        ``"class prior"``.
    per_query_ap : dict
        ``(method, seed, direction)`` -> average precision of each test
        query (mAP@all is their mean), for analyses without refitting
        (significance tests, class-balanced mAP).
    test_labels : ndarray or None
        Labels of the test pairs (the queries of both directions), in the
        order of ``per_query_ap``'s arrays.
    relevance : {"class", "instance"}
        What made an item relevant: the same class (scores mAP, mAP@50,
        P@10), or the same image (instance retrieval: R@k, ranks, rsum).
    examples : dict or None
        For a dataset with image files (``images_test``, as
        :func:`~skcross.feature_extraction.encode_dataset` gives): a few
        seeded test image queries (``"queries"``: their files) and, per
        method, each query's top-5 captions with whether each is relevant
        (``"methods"``), from the first seed's model: the qualitative figure.
    protocol : dict
        Dataset, split sizes, selection, device, seeds, what ``quick`` changed,
        the machine and package versions; ``settings`` (what a resumed run
        must share: the data's SHA-256, seeds, selection, each method's
        parameters, skcross's version), ``fits`` (the planned ``[method,
        seed]``, in table order), ``incomplete`` while some are missing, and
        ``wall_s`` (the run's seconds).
    reused : list of tuple
        The ``(method, seed)`` fits read from the output folder instead of
        fitted (a resumed run).
    """

    runs: list = field(default_factory=list)
    curves: dict = field(default_factory=dict)
    protocol: dict = field(default_factory=dict)
    per_query_ap: dict = field(default_factory=dict)
    test_labels: np.ndarray = None
    relevance: str = "class"
    examples: dict = None
    reused: list = field(default_factory=list)

    def summary(self):
        """One row per method: mean and standard deviation over seeds of every measure."""
        return summarize(self)


def _environment():
    import importlib.metadata as metadata

    versions = {}
    for package in ("skcross", "numpy", "scipy", "scikit-learn", "torch", "skorch", "scikit-learn-extra"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = os.cpu_count()
    return {
        "machine": f"{platform.machine()}, {cores} cores, {platform.system()} {platform.release()}",
        "processor": platform.processor() or "unknown",
        "python": platform.python_version(),
        "versions": versions,
    }


def _resolved_device(device):
    try:
        return resolve_device(device)
    except ImportError:
        return "cpu (torch not installed)"


def run_benchmark(
    dataset,
    *,
    methods=None,
    seeds=(0,),
    device="auto",
    select="paper",
    cv=3,
    quick=False,
    progress=True,
    dataset_name=None,
    output=None,
    fresh=False,
    in_process=None,
    fit_timeout=None,
    provenance=None,
):
    """Fit every method on a dataset's training split and score it on its test split.

    Parameters
    ----------
    dataset : Bunch
        ``X_img_train``, ``X_txt_train``, ``y_train``, ``X_img_test``,
        ``X_txt_test``, ``y_test`` (what :func:`~skcross.datasets.load_dataset`
        returns). With ``groups_test`` (the image of each test pair, each
        image repeated once per text, as
        ``make_cross_modal(n_texts_per_image=5, return_groups=True)`` gives
        it), the evaluation is instance-level: relevant means "the same
        image", and the scores are Recall@1/5/10, median and mean rank, rsum
        and instance mAP in both directions
        (:func:`~skcross.metrics.cross_modal_instance_scores`). Training is
        unchanged: one row per (image, text) pair; ``groups_train`` keeps an
        image's texts in one fold of ``select="cv"``.
    methods : list of str, default=None
        Names in :data:`~skcross.benchmark.METHODS`; None runs every method
        whose dependencies are installed.
    seeds : sequence of int, default=(0,)
        One fit per seed (``random_state``); scores are averaged over seeds.
    device : str, default="auto"
        Torch device of the deep methods.
    select : {"paper", "cv", "dev"}, default="paper"
        "paper": every method with its paper's defaults. "cv": the method's
        grid (:attr:`Method.grid`) searched by ``GridSearchCV`` with
        ``get_scorer("map")`` (``"instance_rsum"`` for instance retrieval) on
        the training split only; the test split is used once, by the refitted
        best model. "dev": each setting of the grid is fitted on the training
        split and scored on the dataset's development split (``X_img_dev``,
        ``X_txt_dev`` and ``y_dev`` or ``groups_dev``), and the best one's
        model is scored on the test split once (it is not refitted).
    cv : int, default=3
        Folds of the search.
    quick : bool, default=False
        Smoke run: at most 600 training and 300 test pairs, deep methods
        about 50 optimizer steps per training stage, KCCA 200 Nystroem
        components, 2-fold search.
    progress : bool, default=True
        Show a progress bar over the runs and each deep fit's bar.
    dataset_name : str, default=None
        Name written in the protocol (default: the Bunch's ``name``).
    output : str or path, default=None
        Folder that keeps the run: ``protocol.json`` before the first fit,
        then each fit in ``fits/`` the moment it finishes (written under a
        temporary name and renamed, so a kill leaves no half file). A run
        with the same settings on the same folder resumes: the fits on disk
        are read, not refitted (a failed fit is kept too; delete its file to
        retry it). Other settings are refused, naming what differs. The
        result is then assembled from the files, so a resumed run gives the
        tables of an uninterrupted one; :func:`save_results` writes them.
        None keeps nothing until the end.
    fresh : bool, default=False
        Discard the fits kept in ``output`` and fit everything again.
    in_process : bool, default=None
        False: each fit runs in a child process (one at a time), so a crash
        (a segfault, the out-of-memory killer) or ``fit_timeout`` becomes a
        row that says so (``"killed by signal 11 (SIGSEGV) after 412 s"``)
        and the run goes on. True: every fit in this process (debugging; an
        estimator class defined in ``__main__`` needs it). None: child
        processes when the run has more than one fit.
    fit_timeout : float, default=None
        Seconds after which a fit's child process is stopped and the fit is
        reported as failed; None: no limit. Needs child processes.
    provenance : dict, default=None
        Entries added to the protocol as given (the command line records its
        command, date and the raw data's origin); a resumed run does not
        compare them.

    Returns
    -------
    result : BenchmarkResult

    Examples
    --------
    >>> from skcross.benchmark import run_benchmark
    >>> from skcross.datasets import load_wikipedia
    >>> result = run_benchmark(load_wikipedia(), methods=["CCA"], progress=False)
    >>> round(result.runs[0]["map_i2t"], 4)
    0.2417
    """
    start = time.perf_counter()
    if select not in ("paper", "cv", "dev"):
        raise ValueError(f"select must be 'paper', 'cv' or 'dev', got {select!r}.")
    _check_isolation(output, fresh, in_process, fit_timeout)
    names, seeds = check_methods(methods), check_seeds(seeds)
    X_img, X_txt, y, groups_train = _split_arrays(dataset, "train")
    X_img_test, X_txt_test, y_test, groups_test = _split_arrays(dataset, "test")
    if y_test is None and groups_test is None:
        raise ValueError("dataset needs y_test (class labels) or groups_test (the image of each test pair).")
    dev = _split_arrays(dataset, "dev") if select == "dev" else None
    if select == "dev" and dev[0] is None:
        raise ValueError("select='dev' needs a development split (X_img_dev, X_txt_dev and y_dev or groups_dev); "
                         f"{dataset.get('name', 'this dataset')} has none: use select='cv' to search on folds of "
                         "the training split.")
    n_train_full, n_test_full = len(X_txt), len(X_txt_test)
    shortened = {}
    if quick:
        rng = np.random.RandomState(0)
        if groups_test is None:
            train, test = _subsample(rng, y, QUICK_TRAIN), _subsample(rng, y_test, QUICK_TEST)
        else:  # whole images: an image's texts stay together
            train = _quick_rows(rng, y, groups_train, QUICK_TRAIN)
            test = _quick_rows(rng, y_test, groups_test, QUICK_TEST)
            groups_test = np.asarray(groups_test)[test]
            groups_train = None if groups_train is None else np.asarray(groups_train)[train]
        X_img, X_txt, y = X_img[train], X_txt[train], _rows(y, train)
        X_img_test, X_txt_test, y_test = X_img_test[test], X_txt_test[test], _rows(y_test, test)
        if dev is not None:
            keep = _quick_rows(rng, dev[2], dev[3], QUICK_TEST)
            dev = tuple(_rows(array, keep) for array in dev)
        cv = 2
        shortened = {
            "training pairs": f"{len(train)} of {n_train_full} "
                              + ("(class-stratified)" if groups_train is None else "(whole images)"),
            "test pairs": f"{len(test)} of {n_test_full}" + ("" if groups_test is None else " (whole images)"),
            "deep methods": "about 50 optimizer steps per training stage (UNCSM: 5,000 metric pairs)",
            "KCCA": "200 Nystroem components",
            "search folds": "2",
        }
    deep = any(METHODS[name].deep for name in names)
    device_name = _resolved_device(device) if deep else "not used (no deep method)"
    protocol = {
        "dataset": dataset_name or dataset.get("name", "dataset"),
        "train": len(X_txt),
        "test": len(X_txt_test),
        "features": f"image {X_img.shape[1]}-d, text {X_txt.shape[1]}-d",
        "labels": ("no class labels (pairs and their images only)" if y is None else
                   "single-label" if np.ndim(y) == 1 else "multi-label (relevant = share a label)"),
        "relevance": "class (relevant = same class)" if groups_test is None else (
            f"instance (relevant = the same image; {len(np.unique(groups_test))} test images, "
            f"{len(groups_test)} texts)"),
        "selection": {
            "paper": "papers' default settings (nothing tuned)",
            "cv": f"GridSearchCV, {cv}-fold on the training split, scorer "
                  + ("mean mAP@all" if groups_test is None else "rsum") + "; test split used once",
            "dev": "each grid setting fitted on the training split and scored on the dev split ("
                   + ("mean mAP@all" if groups_test is None else "rsum") + f", {0 if dev is None else len(dev[1])} "
                   "pairs); the best setting's model scored on the test split once",
        }[select],
        "seeds": seeds,
        "device": device_name,
        "inference": "embedding both test sets, their similarities and ranking both directions, block by block",
        "quick": shortened,
        "chance_map": None if groups_test is not None else chance_map(y_test),
        "relevant_share": None if groups_test is not None else random_precision(y_test, y_test),
        "class_prior_map": None,
        **_environment(),
    }
    if groups_test is None:
        # the test pairs are both directions' queries and database, so one ranking of the prior serves both
        prior_map, _, curves = _class_scores(rank_queries(class_prior_similarity(y, y_test, len(y_test)), y_test,
                                                          y_test, CLASS_STATISTICS))
        protocol["class_prior_map"] = {direction: prior_map for direction in DIRECTIONS}
        prior_curves = {(PRIOR, direction, kind): curve for direction in DIRECTIONS for kind, curve in curves.items()}
    else:
        groups_test, prior_curves = np.asarray(groups_test), {}
        protocol["chance_instance"] = _flat_instance(_random_instance_scores(groups_test))
    # a method without randomness (no random_state) gives the same model for every seed: fitted once;
    # on data without labels a method that needs them is listed once, unfitted
    unlabelled = {name for name in names if y is None and METHODS[name].requires_labels}
    jobs = [(name, seed) for name in names
            for seed in (seeds if METHODS[name].randomized and name not in unlabelled else seeds[:1])]
    example_rows = queries = captions = None
    if groups_test is not None and "images_test" in dataset and "captions_test" in dataset:
        example_rows = query_rows(groups_test, N_EXAMPLES, random_state=0)
        captions = np.asarray(dataset["captions_test"])
        captions = captions[test] if quick else captions  # groups_test is already the quick run's rows
        queries = [str(dataset["images_test"][g]) for g in groups_test[example_rows]]
    train_split, test_split = (X_img, X_txt, y, groups_train), (X_img_test, X_txt_test, y_test, groups_test)
    protocol["settings"] = _settings(protocol, names, (device, select, cv, quick), train_split, test_split, dev)
    protocol["fits"] = [list(job) for job in jobs]
    to_fit = sum(name not in unlabelled for name, _ in jobs)
    isolated = to_fit > 1 if in_process is None else not in_process
    protocol["isolation"] = ("each fit in a child process, one at a time" + (
        f", stopped after {fit_timeout:g} s" if fit_timeout is not None else "") if isolated
        else "every fit in the benchmark's process")
    protocol.update(provenance or {})
    test_labels = np.asarray(y_test) if groups_test is None else None
    store = None if output is None else FitStore(output)
    records = {}
    if store is not None:
        if not fresh:
            _check_resumable(store, protocol["settings"])
            records = {job: store.read(*job) for job in jobs}
        store.start(protocol, fresh=fresh)
        store.write_reference(prior_curves, test_labels, queries)
    setting = _Setting(device, select, cv, quick, progress, dev, example_rows, captions)
    pending = [job for job in jobs if records.get(job) is None]
    runner = (ChildProcess if isolated else InProcess)((setting, train_split, test_split))
    bar = _progress_bar(len(jobs), progress)
    if bar is not None:
        bar.update(len(jobs) - len(pending))
    try:
        for name, seed in pending:
            if bar is not None:
                bar.set_description(f"{name} (seed {seed})")
            if name in unlabelled:  # listed, not dropped: the table says why it has no scores
                record = _record(name, seed, skipped="needs class labels (this dataset has none)")
            else:
                record, failure = runner.call(_fit_record, METHODS[name], seed, timeout=fit_timeout)
                if failure is not None:  # the child died, hit the time limit, or could not run the fit
                    record = _record(name, seed, error=failure)
            if "error" in record["row"]:
                warnings.warn(f"{name} (seed {seed}) failed: {record['row']['error']}", RuntimeWarning, stacklevel=2)
            if store is not None:
                store.write(record)
            records[(name, seed)] = record
            if bar is not None:
                bar.update(1)
    except BaseException:  # Ctrl-C: the finished fits are on disk; the running one is stopped
        runner.close(kill=True)
        raise
    finally:
        runner.close()
        if bar is not None:
            bar.close()
    if store is not None:  # the tables of every run with an output folder are made from what is on disk
        records = {job: store.read(*job) for job in jobs}
    protocol["wall_s"] = round(time.perf_counter() - start, 1)
    result = assemble(protocol, (prior_curves, test_labels, queries), [records.get(job) for job in jobs])
    result.reused = [job for job in jobs if job not in pending]
    return result


def _record(name, seed, **row):
    """A fit's record without scores: a failure (``error=``) or a method left out (``skipped=``)."""
    return {"row": {"method": name, "seed": seed, **row}, "curves": {}, "per_query_ap": {}, "examples": None}


def _fit_record(shared, method, seed):
    """Fit one method with one seed and score it: its record (a failing fit's record holds its ``error``).

    Runs in the benchmark's process or in a child process (``shared`` is the
    run's ``(setting, train, test)``, sent to the child once).
    """
    setting, train, test = shared
    record = _record(method.name, seed)
    row = record["row"]
    try:
        with _convergence_warnings() as collapsed:
            scores, record["curves"], record["per_query_ap"], top = _run_one(method, seed, setting, train, test)
    except Exception as error:  # one failing method must not lose the others' results
        row["error"] = f"{type(error).__name__}: {error}"
        return record
    row.update(scores)
    if collapsed:
        row["warnings"] = " | ".join(collapsed)
    if top is not None:
        groups_test = test[3]
        record["examples"] = [[(str(setting.captions[t]), bool(groups_test[t] == groups_test[query])) for t in ranked]
                              for query, ranked in zip(setting.example_rows, top)]
    return record


def assemble(protocol, reference, records):
    """The :class:`BenchmarkResult` of a run's planned fits, from their records (None: not fitted yet).

    Parameters
    ----------
    protocol : dict
        With ``"fits"``, the planned ``[method, seed]`` in table order.
    reference : tuple
        ``(class-prior curves, test labels or None, example query files or None)``.
    records : list of dict or None
        One per planned fit, in order. A missing fit leaves the result marked
        incomplete (``protocol["incomplete"]``), which the tables say.
    """
    prior_curves, test_labels, queries = reference
    protocol = dict(protocol)
    missing = [fit for fit, record in zip(protocol["fits"], records) if record is None]
    protocol.pop("incomplete", None)
    if missing:
        protocol["incomplete"] = {"finished": len(records) - len(missing), "planned": len(records), "missing": missing}
    result = BenchmarkResult(protocol=protocol, test_labels=test_labels,
                             relevance="instance" if "chance_instance" in protocol else "class",
                             examples=None if queries is None else {"queries": queries, "methods": {}})
    result.curves = {key: [curve] for key, curve in prior_curves.items()}
    for record in records:
        if record is None:
            continue
        row = record["row"]
        name, seed = row["method"], row["seed"]
        result.runs.append(row)
        for (direction, kind), curve in record["curves"].items():
            result.curves.setdefault((name, direction, kind), []).append(curve)
        result.per_query_ap.update({(name, seed, direction): ap for direction, ap in record["per_query_ap"].items()})
        if record["examples"] is not None and name not in result.examples["methods"]:  # the first seed's model
            result.examples["methods"][name] = record["examples"]
    return result


def _dataset_sha256(*splits):
    """SHA-256 of every array the fits use (dtype, shape and bytes): resuming needs the same data."""
    digest = hashlib.sha256()
    for split in splits:
        for array in split or (None,):
            if array is None:
                digest.update(b"-")
                continue
            array = np.asarray(array)
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(repr(array.tolist()).encode() if array.dtype == object
                          else np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _settings(protocol, names, setting_args, train, test, dev):
    """What must be the same for a run to resume another's fits: data, seeds, selection, each method's parameters."""
    device, select, cv, quick = setting_args
    methods = {}
    for name in names:
        method = METHODS[name]
        params = method.build(random_state=0, device=device, quick=quick, n_train=len(train[1])).get_params()
        methods[name] = f"{method.estimator}({', '.join(f'{k}={v!r}' for k, v in sorted(params.items()))})" + (
            f" grid {method.grid!r}" if select != "paper" else "")
    return {"skcross": protocol["versions"].get("skcross"), "dataset_sha256": _dataset_sha256(train, test, dev),
            "seeds": protocol["seeds"], "select": select, "cv": cv if select == "cv" else None, "quick": quick,
            "device": protocol["device"], "methods": methods}


def _check_resumable(store, settings):
    """Refuse to resume into a folder whose fits were made with other settings, naming what differs."""
    saved = store.saved_protocol()
    if saved is None:
        return
    theirs = saved.get("settings", {})
    differ = []
    for key, value in settings.items():
        if key == "methods" and key in theirs:
            # a method of one run only is no conflict: its fits are kept or added
            differ += [f"{name}'s parameters: {theirs[key][name]} there, {value[name]} now" for name in value
                       if theirs[key].get(name, value[name]) != value[name]]
        elif theirs.get(key) != value:
            differ.append(f"{key}: {theirs.get(key, 'not recorded')!r} there, {value!r} now")
    if differ:
        kept = len(list(store.fits.glob("*-seed*.npz")))
        raise ValueError(f"output {str(store.directory)!r} holds {kept} fits made with other settings ("
                         + "; ".join(differ) + "). Give another output folder, or fresh=True (--fresh on the command "
                         "line) to discard them.")


def _check_isolation(output, fresh, in_process, fit_timeout):
    if in_process not in (None, True, False):
        raise ValueError(f"in_process must be None, True or False, got {in_process!r}.")
    if fit_timeout is not None:
        if isinstance(fit_timeout, bool) or not isinstance(fit_timeout, (int, float)) or not fit_timeout > 0:
            raise ValueError(f"fit_timeout must be a positive number of seconds or None, got {fit_timeout!r}.")
        if in_process:
            raise ValueError("fit_timeout needs each fit in a child process, which in_process=True turns off: "
                             "only a child process can be stopped at the time limit.")
    if fresh and output is None:
        raise ValueError("fresh=True discards the fits kept in output, but output is None: give the folder.")


def check_methods(methods):
    """The method names to run (None: every installed one), each known; the one check of the API and the CLI."""
    names = available_methods() if methods is None else list(methods)
    unknown = [name for name in names if name not in METHODS]
    if unknown or not names:
        raise ValueError(f"methods must be names among {list(METHODS)}; "
                         + (f"unknown: {unknown}." if unknown else "none given."))
    return names


def check_seeds(seeds):
    """The seeds as ints: integers, or strings of integers (the CLI's ``--seeds 0,1,2``); at least one."""
    try:
        if any(isinstance(seed, bool) for seed in seeds):
            raise TypeError
        seeds = [int(seed) if isinstance(seed, str) else operator.index(seed) for seed in seeds]
    except (TypeError, ValueError):
        raise ValueError(f"seeds must be integers, e.g. (0, 1, 2), got {seeds!r}.") from None
    if not seeds:
        raise ValueError("seeds must name at least one seed.")
    return seeds


@contextlib.contextmanager
def _convergence_warnings():
    """Collect the distinct ``ConvergenceWarning`` messages of the enclosed fit (a collapsed stage, say).

    They are still shown; the run's row keeps them, so a table never reports a
    collapsed fit without saying so.
    """
    messages = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            yield messages
        finally:
            for warning in caught:
                if issubclass(warning.category, ConvergenceWarning) and str(warning.message) not in messages:
                    messages.append(str(warning.message))
    for warning in caught:  # shown as they would have been
        warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)


def _progress_bar(total, enabled):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm comes with skorch; without it, no bar
        return None
    return tqdm(total=total, unit="fit", dynamic_ncols=True)


def _random_instance_scores(groups, seed=0):
    """Instance scores of a random ranking of the test set (the chance level)."""
    from ..metrics import unique_images

    _, image_ids = unique_images(groups)
    S = np.random.default_rng(seed).random((len(image_ids), len(groups)))
    return instance_retrieval_scores(S, groups, image_ids, ks=RECALL_AT)


def _flat_instance(scores):
    """``{"r@1_i2t": ..., "medr_t2i": ..., "rsum": ..., "map_i2t": ...}`` from the nested instance scores."""
    row = {"rsum": scores["rsum"]}
    for direction in DIRECTIONS:
        for key, value in scores[direction].items():
            row[f"{key.lower()}_{direction}"] = value
    return row


def _split_arrays(dataset, split):
    """``(X_img, X_txt, y, groups)`` of one split; ``y`` / ``groups`` None when absent, all None without the split."""
    if f"X_img_{split}" not in dataset:
        return None, None, None, None
    return tuple(dataset.get(f"{key}_{split}") for key in ("X_img", "X_txt", "y", "groups"))


def _rows(array, rows):
    return None if array is None else np.asarray(array)[rows]


def _select_on_dev(method, build, train, dev, scoring):
    """Fit every setting of ``method.grid`` on ``train``, score each on ``dev``; ``(best params, its model, scores)``."""
    X_img, X_txt, y, groups = train
    X_img_dev, X_txt_dev, y_dev, groups_dev = dev
    best, scores = None, {}
    for params in ParameterGrid(method.grid) if method.grid else [{}]:
        model = build().set_params(**params).fit(_paired(X_img, X_txt, groups), y)
        score = scoring(model, _paired(X_img_dev, X_txt_dev, groups_dev), y_dev)
        scores[_params_text(params) or "defaults"] = float(score)
        if best is None or score > best[2]:
            best = (params, model, score)
    return best[0], best[1], scores


@dataclass(frozen=True)
class _Setting:
    """How every run of one benchmark fits: run_benchmark's arguments, checked once."""

    device: str
    select: str
    cv: int
    quick: bool
    progress: bool
    dev: tuple = None  # (X_img, X_txt, y, groups) of the development split, for select="dev"
    example_rows: np.ndarray = None  # test pairs whose image queries the qualitative figure shows
    captions: np.ndarray = None  # the test split's captions, to show the example queries' top captions


def _run_one(method, seed, setting, train, test):
    """Fit ``method`` with ``seed`` on ``train`` and score it on ``test``: ``(row, {(direction, kind): curve},
    {direction: per-query AP}, top captions of the example queries or None)``. A method that trains without labels (not ``method.requires_labels``) never
    sees them; a search on folds still scores its candidates with them."""
    X_img, X_txt, y, groups_train = train
    labels = y if method.requires_labels else None
    X_img_test, X_txt_test, y_test, groups_test = test
    # a search's many fits show no bars of their own: the outer bar tracks the method
    verbose = int(setting.progress and setting.select == "paper")

    def build():
        return method.build(random_state=seed, device=setting.device, verbose=verbose, quick=setting.quick,
                            n_train=len(X_txt))

    estimator = build()
    scoring = get_scorer("map" if groups_test is None else "instance_rsum")
    if setting.select == "cv":
        estimator = GridSearchCV(estimator, method.grid, scoring=scoring,
                                 cv=_cv_splitter(y, setting.cv, seed, groups_train), error_score="raise")
    row = {}
    gpu = (_gpu_peak_reset(getattr(estimator, "device_", None) or _resolved_device(setting.device))
           if method.deep else None)
    with peak_memory() as memory:
        start = time.perf_counter()
        if setting.select == "cv":
            estimator.fit(_paired(X_img, X_txt, groups_train), y, groups=groups_train)
            row["selected"] = estimator.best_params_
            model = estimator.best_estimator_
        elif setting.select == "dev":
            X_img_dev, X_txt_dev, y_dev, groups_dev = setting.dev
            row["selected"], model, row["dev_scores"] = _select_on_dev(
                method, build, (X_img, X_txt, labels, groups_train),
                (X_img_dev, X_txt_dev, y_dev if labels is not None else None, groups_dev), scoring)
        else:  # the groups (when given) let a method keep an image's captions from being each other's negatives
            model = estimator.fit(_paired(X_img, X_txt, groups_train), labels)
        row["fit_s"] = time.perf_counter() - start
        start = time.perf_counter()  # embedding, similarities and ranking, block by block, both kinds of run
        if groups_test is None:
            values = rank_both_ways(model, X_img_test, X_txt_test, y_test, statistics=CLASS_STATISTICS)
        else:
            scores, per_query = cross_modal_instance_scores(model, X_img_test, X_txt_test, groups_test, ks=RECALL_AT,
                                                            return_per_query=True)
        row["inference_s"] = time.perf_counter() - start
    row["peak_mib"] = memory["MiB"]
    if gpu is not None:
        row["peak_gpu_mib"] = gpu.cuda.max_memory_allocated() / 2**20
    row["epochs"] = getattr(model, "n_epochs_", None)
    curves, per_query_ap = {}, {}
    if groups_test is not None:
        row.update(_flat_instance(scores))
        per_query_ap = {direction: per_query[direction]["ap"] for direction in DIRECTIONS}
    else:
        for direction in DIRECTIONS:
            scores, per_query_ap[direction], direction_curves = _class_scores(values[direction])
            row.update({f"{measure}_{direction}": value for measure, value in scores.items()})
            curves.update({(direction, kind): curve for kind, curve in direction_curves.items()})
    row["map_mean"] = (row["map_i2t"] + row["map_t2i"]) / 2
    top = None
    if setting.example_rows is not None:
        top = top_captions(model, X_img_test[setting.example_rows], X_txt_test, k=N_EXAMPLE_CAPTIONS)
    return row, curves, per_query_ap, top


def _class_scores(values):
    """``(scores, per-query AP, {"pr": curve, "scope": curve})`` of one direction's :data:`CLASS_STATISTICS`:
    mAP@all, class-balanced mAP, mAP@50 and P@10, each a reduction of the one ranking."""
    scores = {"map": values.reduce(0), "balanced_map": values.reduce(0, "classes"), f"map@{MAP_AT}": values.reduce(1),
              f"p@{PRECISION_AT}": values.reduce(2)}
    return scores, values.values[0], {"scope": values.reduce(3), "pr": values.reduce(4)}


def _paired(X_img, X_txt, groups=None):
    from .. import paired

    return paired(X_img, X_txt, groups)


def chance_map(y_test, seed=0):
    """mAP@all of a random ranking of the test split (the chance level)."""
    S = np.random.default_rng(seed).random((len(y_test), len(y_test)))
    return mean_average_precision(S, y_test, y_test)


def summarize(result):
    """One dict per method, in run order: ``<measure>`` (mean) and ``<measure>_std`` over the seeds."""
    rows = []
    for name in dict.fromkeys(run["method"] for run in result.runs):
        runs = [run for run in result.runs if run["method"] == name]
        method = METHODS[name]
        row = {"method": name, "kind": method.kind, "supervision": method.supervision,
               "similarity": method.similarity, "seeds": len(runs)}
        failed = [run for run in runs if "error" in run]
        if failed:
            row["error"] = failed[0]["error"]
            rows.append(row)
            continue
        if any("skipped" in run for run in runs):
            row["skipped"] = runs[0]["skipped"]
            rows.append(row)
            continue
        for key in dict.fromkeys(["map_mean", *SCORES, *BALANCED, *INSTANCE_SCORES, *COSTS]):
            values = [run[key] for run in runs if key in run]
            if values:
                row[key], row[f"{key}_std"] = float(np.mean(values)), float(np.std(values))
        selected = [run["selected"] for run in runs if "selected" in run]
        if selected:
            row["selected"] = "; ".join(_params_text(params) for params in selected)
        warned = [run["warnings"] for run in runs if run.get("warnings")]
        if warned:
            row["warnings"] = f"{len(warned)} of {len(runs)} fits: " + warned[0]
        epochs = [run["epochs"] for run in runs if run.get("epochs")]
        if epochs:
            row["epochs"] = float(np.mean(epochs))
        rows.append(row)
    return rows


def _params_text(params):
    return ", ".join(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}" for key, value in params.items())
