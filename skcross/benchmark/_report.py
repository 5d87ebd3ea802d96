"""The benchmark's outputs: summary rows, CSV, markdown table and curve plots."""

import csv
import json
from pathlib import Path

import numpy as np

from ..metrics import PrecisionRecallCurve, PrecisionScopeCurve
from ._methods import METHODS
from ._run import DIRECTIONS, MAP_AT, PRECISION_AT, SCORES, summarize

__all__ = ["load_results", "save_results", "summarize", "to_markdown", "to_rst"]

PRIOR = "class prior"  # the name of the query-independent ranking's curves
HEADERS = {
    "map_i2t": "mAP i2t", "map_t2i": "mAP t2i", "map_mean": "mAP mean",
    f"map@{MAP_AT}_i2t": f"mAP@{MAP_AT} i2t", f"map@{MAP_AT}_t2i": f"mAP@{MAP_AT} t2i",
    f"p@{PRECISION_AT}_i2t": f"P@{PRECISION_AT} i2t", f"p@{PRECISION_AT}_t2i": f"P@{PRECISION_AT} t2i",
    "fit_s": "fit s", "inference_s": "inference s", "peak_mib": "peak MiB", "peak_gpu_mib": "peak GPU MiB",
}
_DIRECTION_TITLES = {"i2t": "image query -> text database", "t2i": "text query -> image database"}


def _cell(row, key, digits=4):
    if key not in row:
        return "-"
    mean, std = row[key], row.get(f"{key}_std", 0.0)
    if row["seeds"] > 1:
        return f"{mean:.{digits}f} ± {std:.{digits}f}" if digits else f"{mean:.0f} ± {std:.0f}"
    return f"{mean:.{digits}f}" if digits else f"{mean:.0f}"


def _time_cell(row, key):
    if key not in row:
        return "-"
    return f"{row[key]:.2f}" if row[key] < 10 else f"{row[key]:.0f}"


def protocol_lines(protocol):
    """The protocol, one line each, as printed above the table."""
    seeds = protocol["seeds"]
    lines = [
        f"Dataset: {protocol['dataset']} ({protocol['train']} training / {protocol['test']} test pairs, "
        f"{protocol['features']}, {protocol['labels']}); test split = query set and database.",
        f"Scores: mAP@all, mAP@{MAP_AT} and precision@{PRECISION_AT} on the test split, i2t = image query -> "
        "text database, t2i = the reverse; relevant = same class. Ranking by cosine similarity of the "
        "embeddings unless the 'similarity' column says otherwise (a learned or method-defined similarity).",
        f"Selection: {protocol['selection']}.",
        f"Seeds: {', '.join(map(str, seeds))} ({'mean ± std over seeds; methods without randomness fitted once' if len(seeds) > 1 else 'one seed'}); "
        f"device: {protocol['device']}; fit s includes any search; inference s = embedding both test sets "
        "and computing their similarity matrix; peak MiB = the process's peak resident memory during fit "
        "and inference (libraries and data included).",
        f"Machine: {protocol['machine']}; Python {protocol['python']}; "
        + ", ".join(f"{package} {version}" for package, version in protocol["versions"].items()) + ".",
    ]
    prior = protocol.get("class_prior_map")
    if prior:
        lines.append(
            "Class prior: every query gets the same ranking, the database sorted by the training frequency of "
            f"its items' classes (mAP i2t {prior['i2t']['map']:.4f}, t2i {prior['t2i']['map']:.4f}); a method's mAP marked "
            "'≤ prior' does not beat it in that direction, i.e. its ranking there owes nothing to the query."
        )
    if protocol.get("note"):  # written into protocol.json by hand, e.g. what else ran on the machine
        lines.append(f"Note: {protocol['note']}")
    if protocol.get("quick"):
        lines.append("QUICK RUN (smoke test, numbers not comparable): " + "; ".join(
            f"{what}: {how}" for what, how in protocol["quick"].items()))
    if protocol.get("command"):
        lines.insert(0, f"Command: {protocol['command']}")
    if protocol.get("date"):
        lines.insert(0, f"Date: {protocol['date']}")
    return lines


def table(result):
    """``(headers, rows of cells)`` of the summary table, the chance level first."""
    rows = summarize(result)
    gpu = any("peak_gpu_mib" in row for row in rows)
    headers = ["method", "supervision", "similarity", "mAP i2t", "mAP t2i", "mAP mean",
               f"mAP@{MAP_AT} i2t", f"mAP@{MAP_AT} t2i", f"P@{PRECISION_AT} i2t", f"P@{PRECISION_AT} t2i",
               "fit s", "inference s", "peak MiB"] + (["peak GPU MiB"] if gpu else [])
    if any("selected" in row for row in rows):
        headers.append("selected")
    body = []
    chance = result.protocol.get("chance_map")
    if chance is not None:
        cells = ["random ranking", "-", "-", f"{chance:.4f}", f"{chance:.4f}", f"{chance:.4f}"]
        body.append(cells + ["-"] * (len(headers) - len(cells)))
    prior = result.protocol.get("class_prior_map")
    if prior:
        i2t, t2i = prior["i2t"], prior["t2i"]
        cells = ["class prior (query-independent)", "training labels", "-", f"{i2t['map']:.4f}", f"{t2i['map']:.4f}",
                 f"{(i2t['map'] + t2i['map']) / 2:.4f}"]
        cells += [f"{prior[d][key]:.4f}" for key, d in _split(SCORES[2:])]
        body.append(cells + ["-"] * (len(headers) - len(cells)))
    for row in rows:
        if "error" in row:
            cells = [row["method"], row["supervision"], row["similarity"], f"failed: {row['error']}"]
            body.append(cells + [""] * (len(headers) - len(cells)))
            continue
        name = row["method"] + (" (collapsed fit, see below)" if "warnings" in row else "")
        cells = [name, row["supervision"], row["similarity"]]
        cells += [_cell(row, key) + _below_prior(row, key, prior) for key in ("map_i2t", "map_t2i")]
        cells += [_cell(row, key) for key in ("map_mean", *SCORES[2:])]
        cells += [_time_cell(row, "fit_s"), _time_cell(row, "inference_s"), _cell(row, "peak_mib", 0)]
        if gpu:
            cells.append(_cell(row, "peak_gpu_mib", 0))
        if "selected" in headers:
            cells.append(row.get("selected", "-"))
        body.append(cells)
    return headers, body


def _split(keys):
    """``(measure, direction)`` of score keys such as ``"map@50_i2t"``."""
    return [tuple(key.rsplit("_", 1)) for key in keys]


def _below_prior(row, key, prior):
    """" ≤ prior" when the method's mean mAP in this direction does not beat the class-prior ranking."""
    direction = key.rsplit("_", 1)[1]
    if not prior or row[key] > prior[direction]["map"]:
        return ""
    return " ≤ prior"


def to_markdown(result):
    """The summary as a markdown table, preceded by the protocol (quoted lines)."""
    headers, body = table(result)
    lines = [*("> " + line for line in protocol_lines(result.protocol)), "",
             "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    lines += [f"\n{line}" for line in _warning_lines(result)]
    return "\n".join(lines) + "\n"


def _warning_lines(result):
    """One line per method whose fits warned of a collapse (``ConvergenceWarning``)."""
    return [f"Collapsed fit, {row['method']}: {row['warnings']}" for row in summarize(result) if "warnings" in row]


def to_rst(result):
    """The summary as a reStructuredText list-table (for the documentation), preceded by the protocol."""
    headers, body = table(result)
    lines = [f"| {line}" for line in protocol_lines(result.protocol)]
    lines += ["", ".. list-table::", "   :header-rows: 1", ""]
    for cells in [headers, *body]:
        lines.append("   * - " + (cells[0] or "\\"))
        lines += ["     - " + (cell.replace("*", "\\*") or "\\") for cell in cells[1:]]
    lines += [f"\n{line.replace('*', chr(92) + '*')}" for line in _warning_lines(result)]
    return "\n".join(lines) + "\n"


def _write_csv(path, rows):
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: json.dumps(value) if isinstance(value, dict) else value for key, value in row.items()})


def mean_curve(curves):
    """The point-wise mean of curves measured on the same x values (one per seed)."""
    first = curves[0]
    precision = np.mean([curve.precision for curve in curves], axis=0)
    if isinstance(first, PrecisionRecallCurve):
        return PrecisionRecallCurve(precision, first.recall)
    return PrecisionScopeCurve(first.scopes, precision)


def curve_styles(names):
    """Line settings of each method's curve: a colour of its own (tab20), seed methods solid and marked ``*``.

    Parameters
    ----------
    names : list of str
        Method names, in legend order.

    Returns
    -------
    styles : dict
        ``{name: keyword arguments of plot_curve}`` (label, color, marker, linestyle, linewidth).
    """
    import matplotlib

    palette = matplotlib.colormaps["tab20"]
    styles = {}
    for i, name in enumerate(names):
        seed_method = name in METHODS and METHODS[name].kind == "seed method"
        styles[name] = {"label": name + (" *" if seed_method else ""), "color": palette(i % 20),
                        "marker": "o" if seed_method else ".", "linestyle": "-" if seed_method else "--",
                        "linewidth": 2 if seed_method else 1.2}
    return styles


def plot_curves(result, directory):
    """One PNG per curve kind and direction, one line per method (mean over seeds); the paths written."""
    import matplotlib

    matplotlib.use("Agg")  # files only: never opens a window
    import matplotlib.pyplot as plt

    from ..plotting import plot_curve

    written = []
    for kind, title in (("pr", "precision-recall"), ("scope", "precision-scope")):
        for direction in DIRECTIONS:
            fig, ax = plt.subplots(figsize=(7, 5))
            lines = [(name, curves) for (name, d, k), curves in result.curves.items()
                     if (d, k) == (direction, kind) and name != PRIOR]
            styles = curve_styles([name for name, _ in lines])
            for name, curves in lines:
                plot_curve(mean_curve(curves), ax=ax, **styles[name])
            prior = result.curves.get((PRIOR, direction, kind))
            if prior:
                plot_curve(mean_curve(prior), ax=ax, label="class prior (query-independent)", color="black",
                           linestyle=":", linewidth=2)
            share = result.protocol.get("relevant_share")
            if share is not None:  # a random ranking's precision at every rank, in expectation
                ax.axhline(share, color="gray", linestyle="--", linewidth=1, label="random ranking")
            ax.set_ylim(0, 1)
            ax.set_title(f"{result.protocol['dataset']}: {title}, {_DIRECTION_TITLES[direction]}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0),  # beside the curves
                      title="* skcross's seed methods (solid);\nbaselines dashed", title_fontsize="small")
            path = Path(directory) / f"{kind}_{direction}.png"
            fig.savefig(path, dpi=110, bbox_inches="tight")
            plt.close(fig)
            written.append(path)
    return written


def load_results(directory):
    """Read back what :func:`save_results` wrote (runs, protocol, curves) as a BenchmarkResult.

    Tables and plots can then be rendered again without refitting anything.
    """
    from ._run import BenchmarkResult

    directory = Path(directory)
    protocol = json.loads((directory / "protocol.json").read_text())
    runs = []
    with open(directory / "runs.csv", newline="") as f:
        for row in csv.DictReader(f):
            run = {}
            for key, value in row.items():
                if value == "":
                    continue
                if key in ("method", "error", "warnings"):
                    run[key] = value
                elif key == "selected":
                    run[key] = json.loads(value)
                elif key in ("seed", "epochs"):
                    run[key] = int(float(value))
                else:
                    run[key] = float(value)
            runs.append(run)
    curves = {}
    for entry in json.loads((directory / "curves.json").read_text()):
        kind = entry["kind"]
        curves[(entry["method"], entry["direction"], kind)] = [
            PrecisionRecallCurve(np.array(p), np.array(x)) if kind == "pr" else PrecisionScopeCurve(np.array(x), np.array(p))
            for x, p in zip(entry["x"], entry["precision"])
        ]
    per_query_ap = {}
    if (directory / "per_query_ap.npz").exists():
        with np.load(directory / "per_query_ap.npz") as saved:
            for key in saved.files:
                name, seed, direction = key.rsplit("|", 2)
                per_query_ap[(name, int(seed), direction)] = saved[key]
    return BenchmarkResult(runs=runs, curves=curves, protocol=protocol, per_query_ap=per_query_ap)


def save_results(result, directory, plots=True):
    """Write ``runs.csv`` (one row per fit), ``summary.csv``, ``results.md``, ``results.rst``,
    ``protocol.json``, ``curves.json``, ``per_query_ap.npz`` (each run's average precision per test
    query, keys ``"method|seed|direction"``) and the curve PNGs into ``directory``; return the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _write_csv(directory / "runs.csv", result.runs)
    _write_csv(directory / "summary.csv", summarize(result))
    (directory / "results.md").write_text(to_markdown(result))
    (directory / "results.rst").write_text(to_rst(result))
    (directory / "protocol.json").write_text(json.dumps(result.protocol, indent=2) + "\n")
    curves = [{"method": name, "direction": direction, "kind": kind,
               "x": [np.asarray(c[1] if kind == "pr" else c[0]).tolist() for c in values],
               "precision": [np.asarray(c.precision).tolist() for c in values]}
              for (name, direction, kind), values in result.curves.items()]
    (directory / "curves.json").write_text(json.dumps(curves) + "\n")
    written = [directory / name for name in
               ("runs.csv", "summary.csv", "results.md", "results.rst", "protocol.json", "curves.json")]
    if result.per_query_ap:
        np.savez_compressed(directory / "per_query_ap.npz", **{
            f"{name}|{seed}|{direction}": ap for (name, seed, direction), ap in result.per_query_ap.items()})
        written.append(directory / "per_query_ap.npz")
    if plots and result.curves:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            pass  # matplotlib is optional: the tables are written regardless (the command says so)
        else:
            written += plot_curves(result, directory)
    return written
