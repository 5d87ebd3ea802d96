"""The benchmark's outputs: summary rows, CSV, markdown, reStructuredText, LaTeX and JSON tables, curve plots."""

import csv
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..metrics import PrecisionRecallCurve, PrecisionScopeCurve
from ._analysis import ALPHA, analyse
from ._methods import METHODS
from ._run import MAP_AT, PRECISION_AT, PRIOR, RECALL_AT, assemble, summarize
from ._store import DIRECTIONS, FitStore, curve_entries, curves_from_entries

__all__ = ["load_results", "save_results", "summarize", "to_json", "to_latex", "to_markdown", "to_rst"]

BEST, TIED = "▲", "†"  # marks of the mAP cells: the best method; not significantly below it

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


def protocol_lines(result):
    """The protocol of ``result``, one line each, as printed above the table."""
    protocol, instance = result.protocol, result.relevance == "instance"
    seeds = protocol["seeds"]
    scores = (
        f"Scores: mAP@all, mAP@{MAP_AT} and precision@{PRECISION_AT} on the test split, i2t = image query -> "
        "text database, t2i = the reverse; relevant = same class."
        if not instance else
        f"Scores (instance retrieval, {protocol['relevance']}): R@k = share of queries with a relevant item in "
        "their top k (an image query: any of its texts), medr / meanr = median (rounded down) / mean rank of the "
        "first relevant item, from 1; rsum = the sum of the six R@k (fractions; ×100 for papers' percentages); "
        "mAP = mAP@all with every text of the image relevant. i2t = each image once, querying all texts; t2i = "
        "each text querying all images."
    )
    lines = [
        f"Dataset: {protocol['dataset']} ({protocol['train']} training / {protocol['test']} test pairs, "
        f"{protocol['features']}, {protocol['labels']}); test split = query set and database.",
        scores + " Ranking by cosine similarity of the "
        "embeddings unless the 'similarity' column says otherwise (a learned or method-defined similarity).",
        f"Selection: {protocol['selection']}.",
        f"Seeds: {', '.join(map(str, seeds))} ({'mean ± std over seeds; methods without randomness fitted once' if len(seeds) > 1 else 'one seed'}); "
        f"device: {protocol['device']}; fit s includes any search; inference s = "
        # a run before issue 43 timed embedding and similarities only; later runs record what they time
        + protocol.get("inference", "embedding both test sets and computing their similarity matrix")
        + "; peak MiB = the process's peak resident memory during fit and inference (libraries and data included).",
        f"Machine: {protocol['machine']}; Python {protocol['python']}; "
        + ", ".join(f"{package} {version}" for package, version in protocol["versions"].items()) + ".",
    ]
    prior = protocol.get("class_prior_map")
    if prior:
        lines.append(
            "Class prior: every query gets the same ranking, the database sorted by the training frequency of "
            f"its items' classes (mAP i2t {prior['i2t']['map']:.4f}, t2i {prior['t2i']['map']:.4f}); a method's mAP marked "
            "'≤ prior' does not beat it in that direction (by that measure), i.e. its ranking there owes nothing to the query."
        )
    lines.append(
        ("" if instance else
         "bal. mAP = class-balanced mAP@all, the mean over query classes of each class's mAP (every class counts "
         "once, however many queries it has). ")
        + f"{BEST} = highest mAP in the direction; {TIED} = not significantly "
        "below it (paired randomisation test on the test queries' AP, averaged over seeds, Holm-corrected over "
        f"the comparisons with the best, α = {ALPHA}); unmarked = significantly below."
    )
    raw = protocol.get("raw_data")
    if raw:
        encoders = raw["encoders"]
        lines.append(
            f"Features encoded from raw files ({raw['format']} {raw['source']}, SHA-256 {raw['sha256'][:12]}; images in "
            f"{raw['images']}): images by {encoders['image']['model']} (weights "
            f"{encoders['image']['weights'] or 'random'}, network SHA-256 {encoders['image']['state_sha256'][:12]}), "
            f"captions by {encoders['text']['model']} (network SHA-256 {encoders['text']['state_sha256'][:12]}); "
            f"feature cache {raw['cache']}; "
            + "; ".join(f"{what}: {e['encoded']} encoded, {e['from_cache']} read from the cache, {e['seconds']:.1f} s"
                        for what, e in raw["encoding"].items()) + "."
        )
    if protocol.get("note"):  # written into protocol.json by hand, e.g. what else ran on the machine
        lines.append(f"Note: {protocol['note']}")
    for added in protocol.get("added", []):  # benchmarks/add_methods.py: rows fitted later, alone, same protocol
        lines.append(f"Rows added on {added['date']}, fitted alone with this protocol's seeds and selection "
                     f"({added['device']}; {added['wall_s']:.0f} s): {', '.join(added['methods'])}; "
                     f"command: {added['command']}.")
    if protocol.get("isolation"):
        lines.append(f"Fits: {protocol['isolation']}.")
    incomplete = protocol.get("incomplete")
    if incomplete:
        lines.insert(0, f"INCOMPLETE RUN: {incomplete['finished']} of {incomplete['planned']} fits finished; not yet "
                        "fitted: " + ", ".join(f"{name} (seed {seed})" for name, seed in incomplete["missing"])
                     + ". Run the same command again (or --resume DIR) to fit only those.")
    if protocol.get("quick"):
        lines.append("QUICK RUN (smoke test, numbers not comparable): " + "; ".join(
            f"{what}: {how}" for what, how in protocol["quick"].items()))
    if protocol.get("command"):
        lines.insert(0, f"Command: {protocol['command']}")
    if protocol.get("date"):
        lines.insert(0, f"Date: {protocol['date']}")
    return lines


def _unscored(row):
    """Whether a summary row has no scores: its fits failed, or the method was skipped (e.g. needs labels)."""
    return "error" in row or "skipped" in row


class _Column(NamedTuple):
    """One score column of the summary table."""

    key: str  # the summary row's key
    title: str
    digits: int = 4
    vs_prior: tuple = None  # (measure, direction) of the class-prior value a cell not above it is marked "≤ prior" by


def _score_columns(instance):
    if instance:  # Recall@k, ranks, rsum and instance mAP
        return ([_Column(f"r@{k}_{d}", f"R@{k} {d}") for d in DIRECTIONS for k in RECALL_AT]
                + [_Column(f"{m}_{d}", f"{m} {d}", 1) for m in ("medr", "meanr") for d in DIRECTIONS]
                + [_Column("rsum", "rsum")] + [_Column(f"map_{d}", f"mAP {d}") for d in DIRECTIONS])
    return ([_Column(f"map_{d}", f"mAP {d}", vs_prior=("map", d)) for d in DIRECTIONS]
            + [_Column("map_mean", "mAP mean")]
            + [_Column(f"balanced_map_{d}", f"bal. mAP {d}", vs_prior=("balanced_map", d)) for d in DIRECTIONS]
            + [_Column(f"{measure}_{d}", f"{title} {d}") for measure, title in
               ((f"map@{MAP_AT}", f"mAP@{MAP_AT}"), (f"p@{PRECISION_AT}", f"P@{PRECISION_AT}")) for d in DIRECTIONS])


class _Reference(NamedTuple):
    """A ranking every method is compared with (random, class prior): its cells' values by column key."""

    name: str
    latex_name: str
    supervision: str
    values: dict


def _references(result):
    protocol, references = result.protocol, []
    chance = protocol.get("chance_instance") if result.relevance == "instance" else protocol.get("chance_map")
    if chance is not None:
        values = chance if result.relevance == "instance" else dict.fromkeys(("map_i2t", "map_t2i", "map_mean"), chance)
        references.append(_Reference("random ranking", "Random ranking", "-", values))
    prior = protocol.get("class_prior_map")
    if prior and result.relevance == "class":
        values = {f"{measure}_{d}": value for d in DIRECTIONS for measure, value in prior[d].items()}
        values["map_mean"] = (prior["i2t"]["map"] + prior["t2i"]["map"]) / 2
        references.append(_Reference("class prior (query-independent)", "Class prior", "training labels", values))
    return references


def table(result, analysis=None):
    """``(headers, rows of cells)`` of the summary table, the reference rankings (chance, class prior) first."""
    analysis = analysis or analyse(result)
    rows, marks = analysis.summary, _marks(analysis)
    columns, prior = _score_columns(result.relevance == "instance"), result.protocol.get("class_prior_map")
    costs = [("fit s", "fit_s", None), ("inference s", "inference_s", None), ("peak MiB", "peak_mib", 0)]
    if any("peak_gpu_mib" in row for row in rows):
        costs.append(("peak GPU MiB", "peak_gpu_mib", 0))
    headers = ["method", "supervision", "similarity", *(c.title for c in columns), *(title for title, _, _ in costs)]
    if any("selected" in row for row in rows):
        headers.append("selected")
    body = []
    for reference in _references(result):
        cells = [reference.name, reference.supervision, "-"] + [
            "-" if reference.values.get(c.key) is None else f"{reference.values[c.key]:.{c.digits}f}" for c in columns]
        body.append(cells + ["-"] * (len(headers) - len(cells)))
    for row in rows:
        if _unscored(row):
            reason = f"failed: {row['error']}" if "error" in row else row["skipped"]
            body.append([row["method"], row["supervision"], row["similarity"], reason] + [""] * (len(headers) - 4))
            continue
        cells = [row["method"] + (" (collapsed fit, see below)" if "warnings" in row else ""), row["supervision"],
                 row["similarity"]]
        cells += [_cell(row, c.key, c.digits) + marks.get((row["method"], c.key), "")
                  + _below_prior(row, c, prior) for c in columns]
        cells += [_time_cell(row, key) if digits is None else _cell(row, key, digits) for _, key, digits in costs]
        if "selected" in headers:
            cells.append(row.get("selected", "-"))
        body.append(cells)
    return headers, body


def _marks(analysis):
    """``{(method, "map_<direction>"): " ▲" or " †"}`` from the significance tests."""
    return {(name, f"map_{direction}"): f" {BEST if comparison.best else TIED}"
            for direction, rows in analysis.significance.items() for name, comparison in rows.items()
            if comparison.tied_with_best}


def significance_tables(analysis):
    """Per direction, ``(title, headers, rows)``: each method's mAP, bootstrap interval and test against the best."""
    tables = []
    for direction, rows in analysis.significance.items():
        title = (f"Significance, {_DIRECTION_TITLES[direction]}: mAP@all, 95 % bootstrap interval over queries, "
                 "paired randomisation test against the best (p, Holm-adjusted p).")
        body = []
        for row in sorted(rows.values(), key=lambda r: -r.mean):
            p = "-" if row.best else f"{row.p_value:.4f} ({row.p_adjusted:.4f})"
            verdict = "best" if row.best else ("not significantly below" if row.tied_with_best else "below")
            body.append([row.method, f"{row.mean:.4f}", f"{row.ci_low:.4f} – {row.ci_high:.4f}", p, verdict])
        tables.append((title, ["method", "mAP", "95 % interval", "p (adjusted)", "against the best"], body))
    return tables


def _closing_lines(analysis):
    """The class-balanced place changes per direction, then one line per method whose fits warned of a collapse."""
    lines = []
    for direction, moved in analysis.place_changes.items():
        if any(f"balanced_map_{direction}" in row for row in analysis.summary):
            text = "; ".join(f"{name} {before} → {after}" for name, before, after in moved) or "none"
            lines.append(f"Places that change under class-balanced mAP, {direction} (place by mAP → by bal. mAP): "
                         f"{text}.")
    return lines + [f"Collapsed fit, {row['method']}: {row['warnings']}" for row in analysis.summary
                    if "warnings" in row]


def _below_prior(row, column, prior):
    """" ≤ prior" when the method's mean mAP in this direction does not beat the class-prior ranking."""
    if not prior or not column.vs_prior or column.key not in row:
        return ""
    measure, direction = column.vs_prior
    return "" if measure not in prior[direction] or row[column.key] > prior[direction][measure] else " ≤ prior"


def _document(result, analysis, quote, table_lines, escape=str):
    """The protocol (each line after ``quote``), the summary and significance tables, then the closing lines."""
    lines = [quote + line for line in protocol_lines(result)] + table_lines(*table(result, analysis))
    for title, headers, rows in significance_tables(analysis):
        lines += ["", title] + table_lines(headers, rows)
    lines += [f"\n{escape(line)}" for line in _closing_lines(analysis)]
    return "\n".join(lines) + "\n"


def _markdown_table(headers, body):
    return ["", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)] + [
        "| " + " | ".join(cells) + " |" for cells in body]


def _rst_list_table(headers, body):
    lines = ["", ".. list-table::", "   :header-rows: 1", ""]
    for cells in [headers, *body]:
        lines.append("   * - " + (cells[0] or "\\"))
        lines += ["     - " + (_rst_escape(cell) or "\\") for cell in cells[1:]]
    return lines


def _rst_escape(text):
    return text.replace("*", "\\*")


def to_markdown(result):
    """The summary as a markdown table, preceded by the protocol (quoted lines)."""
    return _markdown(result, analyse(result))


def _markdown(result, analysis):
    return _document(result, analysis, "> ", _markdown_table)


def to_rst(result):
    """The summary as a reStructuredText list-table (for the documentation), preceded by the protocol."""
    return _rst(result, analyse(result))


def _rst(result, analysis):
    return _document(result, analysis, "| ", _rst_list_table, _rst_escape)


_LATEX_GROUPS = [("mAP@all", [("map_i2t", "i2t"), ("map_t2i", "t2i"), ("map_mean", "mean")]),
                 ("class-balanced mAP", [("balanced_map_i2t", "i2t"), ("balanced_map_t2i", "t2i")])]
_LATEX_INSTANCE_GROUPS = [
    (r"image $\rightarrow$ text", [(f"r@{k}_i2t", f"R@{k}") for k in RECALL_AT]),
    (r"text $\rightarrow$ image", [(f"r@{k}_t2i", f"R@{k}") for k in RECALL_AT]),
    ("", [("rsum", "rsum")]),
    ("instance mAP", [("map_i2t", "i2t"), ("map_t2i", "t2i")]),
]
_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                   "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _latex_escape(text):
    return "".join(_LATEX_SPECIALS.get(char, char) for char in str(text))


def to_latex(result, *, caption=None, label=None):
    """The mAP table as a LaTeX ``table`` with booktabs rules, ready for a paper.

    Columns: mAP@all in both directions and their mean, then class-balanced
    mAP in both directions. Each column's best method is bold and the second
    underlined (the reference rows, random and class prior, are set apart and
    never marked); ``\\pm`` gives the standard deviation over seeds; a
    :math:`\\dagger` marks a method not significantly below the best of its
    direction (the tests of the markdown table). Needs ``\\usepackage{booktabs}``.

    Parameters
    ----------
    result : BenchmarkResult
        A fresh or loaded (:func:`load_results`) result.
    caption : str, default=None
        The caption; None writes one from the protocol (dataset, split,
        seeds, what the marks mean).
    label : str, default=None
        ``\\label`` of the table; None uses ``tab:<dataset>``.

    Returns
    -------
    latex : str

    Examples
    --------
    >>> from skcross.benchmark import load_results, to_latex
    >>> print(to_latex(load_results("benchmarks/results/wikipedia")))  # doctest: +SKIP
    """
    return _latex(result, analyse(result), caption, label)


def _latex(result, analysis, caption=None, label=None):
    protocol, instance = result.protocol, result.relevance == "instance"
    groups = _LATEX_INSTANCE_GROUPS if instance else _LATEX_GROUPS
    columns = [column for _, group in groups for column in group]
    rows, marks = [row for row in analysis.summary if not _unscored(row)], _marks(analysis)
    n_seeds = len(protocol.get("seeds", [0]))
    ranked = {}
    for key, _ in columns:
        ranked[key] = sorted({round(row[key], 4) for row in rows if key in row}, reverse=True)[:2]

    def cell(row, key):
        if key not in row:
            return "--"
        text = f"{row[key]:.4f}"
        place = ranked[key].index(round(row[key], 4)) if round(row[key], 4) in ranked[key] else None
        text = r"\textbf{" + text + "}" if place == 0 else (r"\underline{" + text + "}" if place == 1 else text)
        if row["seeds"] > 1 and f"{key}_std" in row:
            text += rf" $\pm$ {row[f'{key}_std']:.4f}"
        if marks.get((row["method"], key)) == f" {TIED}":
            text += r"$^\dagger$"
        return text

    dataset = _latex_escape(protocol.get("dataset", "dataset"))
    if caption is None:
        what = ("instance retrieval (relevant = the same image): Recall@k as fractions, rsum their sum, instance "
                "mAP@all" if instance else "mAP@all")
        caption = (
            f"{dataset}: {what} on the test split ({protocol.get('test', '?')} pairs), "
            + (f"mean $\\pm$ std over {n_seeds} seeds" if n_seeds > 1 else "one seed")
            + ". i2t: image query, text database; t2i: the reverse. "
            + ("" if instance else "Class-balanced mAP averages over query classes. ")
            + "Best in bold, second underlined; $^\\dagger$: mAP not significantly below the best of its direction "
            f"(paired randomisation test over queries, Holm-corrected, $\\alpha={ALPHA}$)."
        )
    header, rules, position = [""], [], 2
    for title, group in groups:
        header.append(rf"\multicolumn{{{len(group)}}}{{c}}{{{title}}}" if title else "")
        if title:
            rules.append(rf"\cmidrule(lr){{{position}-{position + len(group) - 1}}}")
        position += len(group)
    lines = [r"\begin{table}[t]", r"\centering", rf"\caption{{{caption}}}",
             rf"\label{{{label or 'tab:' + _latex_escape(protocol.get('dataset', 'dataset')).replace(chr(92), '')}}}",
             r"\begin{tabular}{l" + "c" * len(columns) + "}", r"\toprule",
             " & ".join(header) + r" \\", " ".join(rules),
             "Method & " + " & ".join(title for _, title in columns) + r" \\", r"\midrule"]
    references = _references(result)
    for reference in references:
        lines.append(rf"\textit{{{reference.latex_name}}} & " + " & ".join(
            "--" if reference.values.get(key) is None else f"{reference.values[key]:.4f}" for key, _ in columns)
            + r" \\")
    if references:
        lines.append(r"\midrule")
    for row in rows:
        lines.append(_latex_escape(row["method"]) + " & " + " & ".join(cell(row, key) for key, _ in columns)
                     + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def _jsonable(value):
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    return value


def to_json(result):
    """Everything the tables show, as one JSON document (protocol, references, summary, significance).

    Parameters
    ----------
    result : BenchmarkResult
        A fresh or loaded (:func:`load_results`) result.

    Returns
    -------
    text : str
        ``{"protocol", "summary": [one object per method], "significance":
        {direction: [one object per method]}, "class_balanced_place_changes":
        {direction: [[method, place by mAP, place by bal. mAP], ...]}}``; NaN
        is written as null.

    Examples
    --------
    >>> import json
    >>> from skcross.benchmark import load_results, to_json
    >>> json.loads(to_json(load_results("benchmarks/results/wikipedia")))["summary"][0]["method"]  # doctest: +SKIP
    'CCA'
    """
    return _json(result, analyse(result))


def _json(result, analysis):
    document = {
        "protocol": result.protocol,
        "summary": analysis.summary,
        "significance": {direction: [row._asdict() for row in rows.values()]
                         for direction, rows in analysis.significance.items()},
        "class_balanced_place_changes": analysis.place_changes,
    }
    return json.dumps(_jsonable(document), indent=2, ensure_ascii=False) + "\n"


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


def plot_examples(result, directory):
    """The qualitative figure (``retrieved_captions.png``) of a run on image files; the paths written."""
    if not (result.examples and result.examples["methods"]) or not all(
            Path(query).is_file() for query in result.examples["queries"]):
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plotting import draw_retrieved_captions

    fig = draw_retrieved_captions(result.examples["queries"], result.examples["methods"], title=(
        f"{result.protocol['dataset']}: top captions of {len(result.examples['queries'])} test images "
        "(seeded draw; ✓ = a caption of that image), first seed's model"))
    path = Path(directory) / "retrieved_captions.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return [path]


def load_results(directory):
    """Read back what :func:`save_results` wrote (runs, protocol, curves) as a BenchmarkResult.

    Tables and plots can then be rendered again without refitting anything.
    A folder whose run kept each fit (``run_benchmark(output=...)``, the
    command line) is read from those files, so an interrupted run can be
    rendered too: its tables say it is incomplete and what is missing.
    """
    from ._run import BenchmarkResult

    directory = Path(directory)
    protocol = json.loads((directory / "protocol.json").read_text())
    store = FitStore(directory)
    if "fits" in protocol and store.fits.is_dir():  # kept fit by fit: complete or not, the files are the run
        return assemble(protocol, store.read_reference(), [store.read(name, seed) for name, seed in protocol["fits"]])
    runs = []
    with open(directory / "runs.csv", newline="") as f:
        for row in csv.DictReader(f):
            run = {}
            for key, value in row.items():
                if value == "":
                    if key == "epochs":  # a fresh run's rows hold None there (no epochs): its column keeps its place
                        run[key] = None
                    continue
                if key in ("method", "error", "warnings", "skipped"):
                    run[key] = value
                elif key in ("selected", "dev_scores"):
                    run[key] = json.loads(value)
                elif key in ("seed", "epochs"):
                    run[key] = int(float(value))
                else:
                    run[key] = float(value)
            runs.append(run)
    curves = curves_from_entries(json.loads((directory / "curves.json").read_text()))
    per_query_ap = {}
    if (directory / "per_query_ap.npz").exists():
        with np.load(directory / "per_query_ap.npz") as saved:  # row i of each direction's array: fit i
            fits, arrays = zip(saved["method"].tolist(), saved["seed"].tolist()), {d: saved[d] for d in DIRECTIONS}
            per_query_ap = {(*fit, d): arrays[d][i] for i, fit in enumerate(fits) for d in DIRECTIONS}
    test_labels = None
    if (directory / "test_labels.npz").exists():
        with np.load(directory / "test_labels.npz") as saved:
            test_labels = saved["y_test"]
    examples = None
    if (directory / "examples.json").exists():
        examples = json.loads((directory / "examples.json").read_text())
        examples["methods"] = {name: [[tuple(pair) for pair in ranked] for ranked in lists]
                               for name, lists in examples["methods"].items()}
    # instance runs record their chance level under "chance_instance" (class runs: "chance_map")
    return BenchmarkResult(runs=runs, curves=curves, protocol=protocol, per_query_ap=per_query_ap,
                           test_labels=test_labels, relevance="instance" if "chance_instance" in protocol else "class",
                           examples=examples)


def save_results(result, directory, plots=True):
    """Write the results into ``directory``; return the paths written.

    ``runs.csv`` (one row per fit), ``summary.csv``, ``results.md``,
    ``results.rst``, ``results.tex`` (:func:`to_latex`), ``results.json``
    (:func:`to_json`), ``protocol.json``, ``curves.json``,
    ``per_query_ap.npz`` (each fit's average precision per test query:
    ``method`` and ``seed`` name the fits, and row i of ``i2t`` and ``t2i``
    holds fit i's queries), ``test_labels.npz`` (``y_test``, the
    queries' labels) and the curve PNGs. :func:`load_results` reads them
    back, so every table can be rendered again without refitting.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _write_csv(directory / "runs.csv", result.runs)
    analysis = analyse(result)  # the one analysis every table below renders
    _write_csv(directory / "summary.csv", analysis.summary)
    (directory / "results.md").write_text(_markdown(result, analysis))
    (directory / "results.rst").write_text(_rst(result, analysis))
    (directory / "results.tex").write_text(_latex(result, analysis))
    (directory / "results.json").write_text(_json(result, analysis))
    (directory / "protocol.json").write_text(json.dumps(result.protocol, indent=2) + "\n")
    (directory / "curves.json").write_text(json.dumps(curve_entries(result.curves)) + "\n")
    written = [directory / name for name in ("runs.csv", "summary.csv", "results.md", "results.rst", "results.tex",
                                             "results.json", "protocol.json", "curves.json")]
    if result.test_labels is not None:
        np.savez_compressed(directory / "test_labels.npz", y_test=np.asarray(result.test_labels))
        written.append(directory / "test_labels.npz")
    if result.per_query_ap:
        fits = list(dict.fromkeys((name, seed) for name, seed, _ in result.per_query_ap))
        np.savez_compressed(directory / "per_query_ap.npz", method=np.array([name for name, _ in fits]),
                            seed=np.array([seed for _, seed in fits]), **{
                                d: np.stack([result.per_query_ap[(*fit, d)] for fit in fits]) for d in DIRECTIONS})
        written.append(directory / "per_query_ap.npz")
    examples = result.examples if result.examples and result.examples["methods"] else None
    if examples:
        (directory / "examples.json").write_text(json.dumps(
            {"queries": examples["queries"], "methods": examples["methods"]}, indent=1) + "\n")
        written.append(directory / "examples.json")
    if plots and (result.curves or examples):
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            pass  # matplotlib is optional: the tables are written regardless (the command says so)
        else:
            written += (plot_curves(result, directory) if result.curves else []) + plot_examples(result, directory)
    return written
