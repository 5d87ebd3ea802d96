"""The command line of the benchmark."""

import argparse
import json
import shlex
import sys
import warnings
from datetime import datetime, timezone
from pathlib import Path

from ._methods import METHODS

DESCRIPTION = """Fit every skcross method on a dataset's training split and score it on its test split.

Prints a table (mAP@all, class-balanced mAP, mAP@50, precision@10 in both directions,
with significance marks; fit and inference time; peak memory) and writes runs.csv,
summary.csv, results.md/.rst/.tex/.json, protocol.json, per-query AP and
precision-recall / precision-scope plots (PNG, needs matplotlib) to --output,
where each finished fit is kept at once (fits/): the same command again resumes.
--render DIR writes the tables and plots of a saved run again, fitting nothing."""


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m skcross.benchmark", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dataset", default="wikipedia",
                        help="'wikipedia' (bundled, the default), 'synthetic_captions' (synthetic, five captions per "
                             "image: instance-level retrieval, R@1/5/10 and ranks), another dataset name known to "
                             "skcross.datasets.load_dataset (looked up in --data-home; e.g. 'flickr8k': real captions, "
                             "instance-level, with a dev split), the path of an .npz file "
                             "(with groups_train / groups_test arrays, the image of each pair, for instance-level "
                             "retrieval), or raw data: a Karpathy split file (.json) or a manifest (.csv/.tsv) "
                             "with --images (see 'raw data' below)")
    parser.add_argument("--data-home", default=None, help="folder of named datasets (default: $SKCROSS_DATA)")
    raw = parser.add_argument_group(
        "raw data", "a --dataset that is a Karpathy split file (.json: images[].filename, split,\n"
        "sentences[].raw) or a manifest (.csv/.tsv: image, caption, split[, label or labels]) is\n"
        "encoded first, each image and caption once, into a feature cache that later runs read\n"
        "instead of encoding again")
    raw.add_argument("--images", default=None, metavar="DIR",
                     help="folder the dataset's image paths are relative to (default: the dataset file's folder)")
    raw.add_argument("--image-model", default="tf_efficientnet_lite0", metavar="NAME",
                     help="timm image model (default: tf_efficientnet_lite0, as the shipped Flickr8k features)")
    raw.add_argument("--image-weights", default=None, metavar="FILE",
                     help="local weights file of --image-model (timm's key names; default: timm's pretrained "
                          "weights, downloaded once)")
    raw.add_argument("--text-model", default="all-MiniLM-L6-v2", metavar="NAME_OR_DIR",
                     help="sentence-transformers model name (downloaded once) or local model folder "
                          "(default: all-MiniLM-L6-v2)")
    raw.add_argument("--cache-dir", default=None, metavar="DIR",
                     help="feature cache (default: <--data-home or $SKCROSS_DATA>/feature_cache)")
    raw.add_argument("--dask-scheduler", default=None, metavar="ADDRESS",
                     help="encode on this Dask cluster (e.g. tcp://host:8786); the cache stays on this machine")
    parser.add_argument("--methods", default=None,
                        help=f"comma-separated subset of: {', '.join(METHODS)} (default: all installed)")
    parser.add_argument("--seeds", default="0",
                        help="comma-separated seeds, one fit each (default: 0); e.g. 0,1,2 for mean ± std")
    parser.add_argument("--device", default="auto", help="torch device of the deep methods (default: auto)")
    parser.add_argument("--select", choices=("paper", "cv", "dev"), default="paper",
                        help="'paper': papers' default settings; 'cv': grid search on the training split; 'dev': "
                             "each grid setting fitted on the training split and scored on the dataset's dev split "
                             "(e.g. flickr8k's), the best one scored on test once")
    parser.add_argument("--cv", type=int, default=3, help="folds of --select cv (default: 3)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run of well under a minute on a 2-core CPU (about 20 s on Wikipedia; what it "
                        "shortens is printed)")
    parser.add_argument("--output", default=None,
                        help="folder of the outputs (default: ./skcross-benchmark/<dataset>)")
    parser.add_argument("--no-plots", action="store_true", help="write the tables only")
    parser.add_argument("--render", default=None, metavar="DIR",
                        help="fit nothing: read the results saved in DIR and write its tables (markdown, rst, LaTeX, "
                             "JSON) and plots again, e.g. after an update of the report")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    kept = parser.add_argument_group(
        "a run that loses nothing", "each finished fit is written to --output/fits/ at once; running the same\n"
        "command again on the same --output fits only what is missing (a Ctrl-C, a kill or a crash\n"
        "loses the running fit only); each fit runs in a child process when there is more than one,\n"
        "so a segfault or an out-of-memory kill fails one row, not the run")
    kept.add_argument("--resume", default=None, metavar="DIR",
                      help="run the command saved in DIR/protocol.json again, on DIR: only the missing fits are fitted")
    kept.add_argument("--fresh", action="store_true",
                      help="discard the fits already kept in --output and fit everything again")
    kept.add_argument("--in-process", action="store_true",
                      help="fit in this process, not in child processes (debugging; a crash then ends the run)")
    kept.add_argument("--fit-timeout", type=float, default=None, metavar="SECONDS",
                      help="stop a fit after this long and report it as failed (needs child processes)")
    return parser


def synthetic_captions(n_images=400, n_test_images=100, n_texts_per_image=5, random_state=0):
    """A synthetic instance-retrieval benchmark: ``make_cross_modal`` images with five captions each, split by image.

    Returns
    -------
    data : Bunch
        The arrays of :func:`~skcross.datasets.load_dataset` plus
        ``groups_train`` and ``groups_test`` (the image of each pair); the
        last ``n_test_images`` images and all their captions are the test split.
    """
    from sklearn.utils import Bunch

    from ..datasets import make_cross_modal

    X_img, X_txt, y, groups = make_cross_modal(n_images, n_classes=10, n_texts_per_image=n_texts_per_image,
                                               return_groups=True, random_state=random_state)
    test = groups >= n_images - n_test_images
    return Bunch(X_img_train=X_img[~test], X_txt_train=X_txt[~test], y_train=y[~test], groups_train=groups[~test],
                 X_img_test=X_img[test], X_txt_test=X_txt[test], y_test=y[test], groups_test=groups[test],
                 name="synthetic_captions")


RAW_SUFFIXES = (".json", ".csv", ".tsv")


def _load(dataset, data_home):
    from ..datasets import DATASETS, load_dataset, load_wikipedia

    if dataset == "wikipedia":
        return load_wikipedia()
    if dataset == "synthetic_captions":
        return synthetic_captions()
    try:
        return load_dataset(dataset, data_home=data_home)
    except FileNotFoundError:
        if Path(dataset).suffix or dataset in DATASETS:
            raise
        raise FileNotFoundError(
            f"it is neither a known dataset name (wikipedia, synthetic_captions, {', '.join(sorted(DATASETS))}; "
            "named files are looked up in --data-home) nor a file. Give the path of features (.npz with X_img_train, "
            "X_txt_train, X_img_test, X_txt_test and y_<split> or groups_<split>, optionally the same *_dev arrays) "
            "or of raw data: a Karpathy split file (.json) or a manifest (.csv/.tsv: image, caption, split) with "
            "--images DIR") from None


def _encode_raw(args, parser):
    """Load a raw dataset (Karpathy JSON or manifest) and encode it; a flag's error names the flag."""
    from ..datasets import get_data_home, load_image_captions
    from ..feature_extraction import ImageEncoder, TextEncoder, encode_dataset

    try:
        raw = load_image_captions(args.dataset, images=args.images)
    except (FileNotFoundError, ValueError, TypeError) as error:
        parser.error(f"--dataset {args.dataset!r}: {error}")
    shown = not args.quiet
    encoders = {}
    for flag, build in (
        ("--image-weights", lambda: ImageEncoder(args.image_model, weights=args.image_weights or "pretrained",
                                                 device=args.device, progress_bar=shown)),
        ("--text-model", lambda: TextEncoder(args.text_model, device=args.device, progress_bar=shown)),
    ):
        try:
            encoders[flag] = build().fit()
        except OSError as error:
            parser.error(f"{error}\nOn the command line, give a local file with {flag} "
                         + ("FILE (timm key names)." if flag == "--image-weights" else "DIR (the model's folder)."))
        except (ValueError, TypeError) as error:
            parser.error(f"{'--image-model/--image-weights' if flag == '--image-weights' else flag}: {error}")
    cache = Path(args.cache_dir) if args.cache_dir else get_data_home(args.data_home) / "feature_cache"
    client = None
    if args.dask_scheduler:
        try:
            from distributed import Client
        except ImportError:
            parser.error("--dask-scheduler needs dask's distributed package: pip install 'skcross[dask]'")
        client = Client(args.dask_scheduler)
    try:
        return encode_dataset(raw, encoders["--image-weights"], encoders["--text-model"], cache=cache, client=client)
    finally:
        if client is not None:
            client.close()


def _resumed_argv(directory):
    """The saved command's arguments, with ``--output directory``: what ``--resume DIR`` runs."""
    path = Path(directory) / "protocol.json"
    if not path.exists():
        _parser().error(f"--resume {directory!r}: no benchmark run there (protocol.json is missing); give the "
                        "--output folder of an earlier run")
    protocol = json.loads(path.read_text())
    if "argv" not in protocol:
        _parser().error(f"--resume {directory!r}: its protocol.json saved no command-line arguments (the run was "
                        "made by run_benchmark, or by an earlier skcross): run "
                        + (f"its command again: {protocol['command']}" if protocol.get("command") else
                           "run_benchmark again with output= that folder"))
    argv, words = [], list(protocol["argv"])
    while words:
        word = words.pop(0)
        if word == "--output":
            words.pop(0)
        elif not word.startswith("--output=") and word != "--fresh":  # resuming keeps what is there
            argv.append(word)
    return argv + ["--output", str(directory)]


def _interrupted(output, no_plots):
    """Ctrl-C: render what is on disk (marked incomplete) and say how to resume; exit status 130."""
    from ._report import load_results, save_results

    print("\ninterrupted (Ctrl-C): the running fit was stopped", file=sys.stderr)
    if (output / "protocol.json").exists():
        result = load_results(output)
        save_results(result, output, plots=not no_plots)
        incomplete = result.protocol.get("incomplete") or {"finished": len(result.runs), "planned": len(result.runs)}
        print(f"{incomplete['finished']} of {incomplete['planned']} fits are kept in {output / 'fits'}; their tables "
              f"are in {output}. Resume with: python -m skcross.benchmark --resume {shlex.quote(str(output))}",
              file=sys.stderr)
    return 130


def main(argv=None):
    """Run the benchmark from the command line; returns the exit status (1 if a method failed).

    Parameters
    ----------
    argv : list of str, default=None
        Arguments (None: ``sys.argv[1:]``); ``--help`` lists them.

    Returns
    -------
    status : int
        0 when every method ran, 1 when one failed (its error is in the table).

    Examples
    --------
    >>> from skcross.benchmark import main
    >>> main(["--methods", "CCA,PLS", "--quiet", "--no-plots", "--output", tmp_path_str])  # doctest: +SKIP
    """
    args = _parser().parse_args(argv)
    if args.resume is not None:
        return main(_resumed_argv(args.resume))
    from ._report import load_results, save_results
    from ._run import check_methods, check_seeds, run_benchmark

    if args.render is not None:
        if not (Path(args.render) / "protocol.json").exists():
            _parser().error(f"--render {args.render!r}: no saved benchmark there (protocol.json is missing); give "
                            "the --output folder of an earlier run")
        result = load_results(args.render)
        written = save_results(result, args.render, plots=not args.no_plots)
        print((Path(args.render) / "results.md").read_text())
        print("re-rendered, nothing fitted; wrote " + ", ".join(str(path) for path in written))
        return 0

    def checked(option, check, given):  # run_benchmark's own checks, said before the dataset loads
        try:
            return check(None if given is None else [item.strip() for item in given.split(",") if item.strip()])
        except ValueError as error:
            _parser().error(f"--{option} {given!r}: {error}")

    methods, seeds = checked("methods", check_methods, args.methods), checked("seeds", check_seeds, args.seeds)
    missing = [name for name in METHODS if name not in methods] if args.methods is None else []
    if missing:
        print(f"not installed, skipped: {', '.join(missing)} (pip install 'skcross[deep]')", file=sys.stderr)
    if args.cv < 2:
        _parser().error("--cv must be at least 2")
    raw = Path(args.dataset).suffix.lower() in RAW_SUFFIXES
    if not raw and args.images is not None:
        _parser().error(f"--images is for raw data (a {'/'.join(RAW_SUFFIXES)} --dataset); {args.dataset!r} is not")
    if raw:
        data = _encode_raw(args, _parser())
        encoding = data.metadata["encoding"]
        print("encoded " + "; ".join(f"{what}: {e['encoded']} encoded, {e['from_cache']} from the cache, "
                                     f"{e['seconds']:.1f} s" for what, e in encoding.items())
              + f" (cache {data.metadata['cache']})")
    else:
        try:
            data = _load(args.dataset, args.data_home)
        except (FileNotFoundError, ValueError, OSError) as error:
            _parser().error(f"--dataset {args.dataset!r}: {error}")
    name = Path(args.dataset).stem if Path(args.dataset).suffix.lower() in (".npz", *RAW_SUFFIXES) else args.dataset
    output = Path(args.output) if args.output else Path("skcross-benchmark") / name
    if args.fit_timeout is not None and (args.in_process or not args.fit_timeout > 0):
        _parser().error(f"--fit-timeout {args.fit_timeout:g}: " + (
            "needs child processes; drop --in-process" if args.in_process else "give a positive number of seconds"))
    argv = sys.argv[1:] if argv is None else list(argv)
    provenance = {"command": "python -m skcross.benchmark " + shlex.join(argv), "argv": argv,
                  "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    if raw:
        provenance["raw_data"] = {key: data.metadata[key] for key in
                                  ("source", "format", "sha256", "images", "encoders", "cache", "encoding")}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # failures are reported in the table
            result = run_benchmark(data, methods=methods, seeds=seeds, device=args.device, select=args.select,
                                   cv=args.cv, quick=args.quick, progress=not args.quiet, dataset_name=name,
                                   output=output, fresh=args.fresh, in_process=True if args.in_process else None,
                                   fit_timeout=args.fit_timeout, provenance=provenance)
    except ValueError as error:  # e.g. an output folder made with other settings: the message names the folder
        _parser().error(str(error))
    except KeyboardInterrupt:
        return _interrupted(output, args.no_plots)
    written = save_results(result, output, plots=not args.no_plots)
    print((output / "results.md").read_text())
    reused = f" ({len(result.reused)} read from {output / 'fits'}, not refitted)" if result.reused else ""
    print(f"{len(result.runs)} fits{reused} in {result.protocol['wall_s']:.0f} s; wrote "
          + ", ".join(str(path) for path in written))
    if not args.no_plots and not any(path.suffix == ".png" for path in written):
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("plots skipped: matplotlib is not installed (pip install 'skcross[plot]')")
    return 1 if any("error" in run for run in result.runs) else 0
