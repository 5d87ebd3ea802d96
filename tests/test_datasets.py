import functools
import hashlib
import http.server
import json
import threading

import numpy as np
import pytest

from skcross.datasets import DATASETS, fetch_dataset, get_data_home, load_dataset, make_cross_modal
from skcross.datasets import _base
from skcross.linear import CCA
from skcross.metrics import cross_modal_map, mean_average_precision


# --------------------------------------------------------------------------- make_cross_modal
def test_make_cross_modal_shapes_and_determinism():
    X_img, X_txt, y = make_cross_modal(120, n_classes=6, n_features_image=20, n_features_text=9, random_state=3)
    assert X_img.shape == (120, 20) and X_txt.shape == (120, 9) and y.shape == (120,)
    assert np.bincount(y).tolist() == [20] * 6
    again = make_cross_modal(120, n_classes=6, n_features_image=20, n_features_text=9, random_state=3)
    for a, b in zip((X_img, X_txt, y), again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(X_img, make_cross_modal(120, n_classes=6, n_features_image=20, random_state=4)[0])


def test_make_cross_modal_multilabel():
    _, _, Y = make_cross_modal(200, n_classes=6, multilabel=True, n_labels=3, random_state=0)
    assert Y.shape == (200, 6) and set(np.unique(Y)) == {0, 1}
    assert Y.sum(1).min() == 1 and Y.sum(1).max() == 3
    with pytest.raises(ValueError, match="n_labels"):
        make_cross_modal(10, n_classes=2, multilabel=True, n_labels=3)
    with pytest.raises(ValueError, match="n_samples"):
        make_cross_modal(0)


def test_label_aware_method_beats_cca_on_synthetic_data():
    """The generator's point: a good (label-aware) method beats CCA, which beats chance."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import normalize

    X_img, X_txt, y = make_cross_modal(900, random_state=0)
    tr, te = slice(0, 600), slice(600, None)
    cca = cross_modal_map(CCA(4).fit(X_img[tr], X_txt[tr]), X_img[te], X_txt[te], y[te])["mean"]
    posteriors = [
        LogisticRegression(max_iter=2000).fit(X[tr], y[tr]).predict_proba(X[te]) for X in (X_img, X_txt)
    ]
    S = normalize(posteriors[0]) @ normalize(posteriors[1]).T
    semantic = mean_average_precision(S, y[te], y[te])
    chance = np.mean(np.bincount(y[te]) / len(y[te]))
    assert chance + 0.2 < cca < semantic - 0.05


# --------------------------------------------------------------------------- load_dataset
def write_fake_dataset(folder, stem="fake_ds", n=8):
    rng = np.random.default_rng(0)
    arrays = {
        "X_img_train": rng.random((n, 3), dtype=np.float32),
        "X_txt_train": rng.random((n, 2), dtype=np.float32),
        "y_train": np.arange(n) % 2,
        "X_img_test": rng.random((4, 3), dtype=np.float32),
        "X_txt_test": rng.random((4, 2), dtype=np.float32),
        "y_test": np.arange(4) % 2,
        "class_names": np.array(["a", "b"]),
    }
    np.savez_compressed(folder / f"{stem}.npz", **arrays)
    (folder / f"{stem}.json").write_text(json.dumps({"name": stem, "description": "a fake dataset"}))
    return arrays


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_load_from_path(tmp_path):
    arrays = write_fake_dataset(tmp_path)
    for spec in (tmp_path / "fake_ds.npz", str(tmp_path / "fake_ds")):
        d = load_dataset(spec)
        np.testing.assert_array_equal(d.X_img_train, arrays["X_img_train"])
        assert d.name == "fake_ds" and d.DESCR == "a fake dataset" and list(d.class_names) == ["a", "b"]
    X_img_tr, X_txt_tr, y_tr, X_img_te, X_txt_te, y_te = load_dataset(tmp_path / "fake_ds.npz", return_X_y=True)
    assert X_img_tr.shape == (8, 3) and y_te.shape == (4,)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a known dataset"):
        load_dataset(tmp_path / "nothing.npz")
    np.savez(tmp_path / "bad.npz", X_img_train=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="not a skcross dataset"):
        load_dataset(tmp_path / "bad.npz")
    with pytest.raises(FileNotFoundError, match="download_if_missing=False"):
        load_dataset("wikipedia", data_home=tmp_path, download_if_missing=False)
    with pytest.raises(FileNotFoundError, match="no mirror is configured"):
        load_dataset("wikipedia", data_home=tmp_path / "empty")


def test_data_home_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SKCROSS_DATA", str(tmp_path / "from_env"))
    assert get_data_home() == tmp_path / "from_env" and (tmp_path / "from_env").is_dir()


@pytest.fixture
def fake_registry(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    write_fake_dataset(mirror)
    entry = {"stem": "fake_ds", "sha256": {e: sha256(mirror / f"fake_ds.{e}") for e in ("npz", "json")}}
    monkeypatch.setitem(DATASETS, "fake", entry)
    return mirror


@pytest.fixture
def loopback_server(fake_registry):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(fake_registry))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_fetch_over_loopback_http(tmp_path, loopback_server):
    home = tmp_path / "home"
    d = load_dataset("fake", data_home=home, base_url=loopback_server)
    assert d.X_img_train.shape == (8, 3)
    assert sorted(p.name for p in home.iterdir()) == ["fake_ds.json", "fake_ds.npz"]
    # Second call: nothing to download (the server is not needed any more).
    assert fetch_dataset("fake", data_home=home, base_url="http://127.0.0.1:9/") == home / "fake_ds.npz"


def test_fetch_rejects_bad_checksum(tmp_path, fake_registry, monkeypatch):
    monkeypatch.setitem(DATASETS["fake"]["sha256"], "npz", "0" * 64)
    home = tmp_path / "home"
    with pytest.raises(OSError, match="Checksum mismatch"):
        fetch_dataset("fake", data_home=home, base_url=fake_registry.as_uri())
    assert not (home / "fake_ds.npz").exists()
    assert not list(home.glob("*.part"))


def test_fetch_from_environment_mirror(tmp_path, fake_registry, monkeypatch):
    monkeypatch.setenv("SKCROSS_DATA_URL", fake_registry.as_uri())
    assert load_dataset("fake", data_home=tmp_path / "home").X_txt_test.shape == (4, 2)


def test_fetch_unknown_name(tmp_path):
    with pytest.raises(ValueError, match="Unknown dataset"):
        fetch_dataset("imagenet", data_home=tmp_path)


# --------------------------------------------------------------------------- real files
def test_registry_checksums_match_shared_files(shared_datasets, tmp_path):
    """The real files verify against the registry when fetched from a file:// mirror."""
    for name in DATASETS:
        path = fetch_dataset(name, data_home=tmp_path, base_url=shared_datasets.as_uri())
        assert path.exists()


@pytest.mark.parametrize("name", sorted(set(DATASETS) - {"flickr8k"}))  # its sidecar has no labels: tested below
def test_real_datasets_match_their_metadata(shared_datasets, name):
    d = load_dataset(name, data_home=shared_datasets, download_if_missing=False)
    for key, spec in d.metadata["arrays"].items():
        assert list(d[key].shape) == spec["shape"], key
        assert str(d[key].dtype) == spec["dtype"], key
    for part in ("train", "test"):
        assert np.isfinite(d[f"X_img_{part}"]).all() and np.isfinite(d[f"X_txt_{part}"]).all()
        counts = np.bincount(d[f"y_{part}"], minlength=d.metadata["num_classes"]).tolist()
        assert counts == d.metadata[f"label_counts_{part}"]


# --------------------------------------------------------------------------- images once, captions by groups, dev split
def write_caption_dataset(folder, stem="caps", n_images=(6, 3, 3), per_image=2, **overrides):
    """An instance-level file as Flickr8k stores it: images once, captions with groups, no labels, a dev split."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in zip(("train", "dev", "test"), n_images):
        arrays[f"X_img_{split}"] = rng.random((n, 4), dtype=np.float32)
        arrays[f"X_txt_{split}"] = rng.random((n * per_image, 3), dtype=np.float32)
        arrays[f"groups_{split}"] = np.repeat(np.arange(n), per_image)
        arrays[f"captions_{split}"] = np.array([f"caption {i}" for i in range(n * per_image)])
        arrays[f"image_ids_{split}"] = np.array([f"{split}{i}.jpg" for i in range(n)])
    arrays.update(overrides)
    np.savez(folder / f"{stem}.npz", **arrays)
    return folder / f"{stem}.npz", arrays


def test_load_dataset_caption_file_gives_pair_rows_and_the_dev_split(tmp_path):
    path, arrays = write_caption_dataset(tmp_path)
    d = load_dataset(path)
    for split in ("train", "dev", "test"):
        groups = arrays[f"groups_{split}"]
        assert d[f"X_img_{split}"].shape == (len(groups), 4)  # one row per pair
        np.testing.assert_array_equal(d[f"X_img_{split}"], arrays[f"X_img_{split}"][groups])
        np.testing.assert_array_equal(d[f"X_txt_{split}"], arrays[f"X_txt_{split}"])
        assert len(d[f"image_ids_{split}"]) == len(arrays[f"X_img_{split}"])  # per-image extras stay per image
    assert "y_train" not in d
    stored = load_dataset(path, pair_rows=False)
    assert stored.X_img_dev.shape == (3, 4) and stored.X_txt_dev.shape == (6, 3)
    X_img, X_txt, y, X_img_test, X_txt_test, y_test = load_dataset(path, return_X_y=True)
    assert y is None and y_test is None and X_img.shape[0] == X_txt.shape[0] == 12


@pytest.mark.parametrize("overrides, match", [
    ({"groups_train": np.repeat(np.arange(6), 2)[:-1]}, r"groups_train has shape \(11,\), but X_txt_train has 12 rows"),
    ({"groups_test": np.array([0, 0, 1, 1, 2, 3])}, r"groups_test\[5\] = 3 points at an image that does not exist"),
    ({"groups_dev": np.array([0, 0, 1, 1, 2, -1])}, r"groups_dev\[5\] = -1 points at an image"),
    ({"X_img_dev": np.zeros((3, 5), np.float32)}, "X_img_dev has 5 features but X_img_train has 4"),
    ({"X_txt_test": np.zeros((6, 2), np.float32)}, "X_txt_test has 2 features but X_txt_train has 3"),
])
def test_load_dataset_refuses_broken_caption_files(tmp_path, overrides, match):
    path, _ = write_caption_dataset(tmp_path, **overrides)
    with pytest.raises(ValueError, match=match):
        load_dataset(path)


def test_load_dataset_refuses_a_split_without_labels_or_groups(tmp_path):
    path, arrays = write_caption_dataset(tmp_path)
    del arrays["groups_dev"]
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"y_dev \(or groups_dev"):
        load_dataset(path)


def test_load_flickr8k_shared(shared_datasets):
    d = load_dataset("flickr8k", data_home=shared_datasets, download_if_missing=False)
    sizes = {split: (len(d[f"image_ids_{split}"]), len(d[f"X_txt_{split}"])) for split in ("train", "dev", "test")}
    assert sizes == {"train": (6000, 30000), "dev": (1000, 5000), "test": (1000, 5000)}
    assert d.X_img_test.shape == (5000, 1280) and d.X_txt_test.shape == (5000, 384)
    # five captions per image, each split's images distinct from the others'
    assert (np.bincount(d.groups_test) == 5).all()
    assert not set(d.image_ids_test) & set(d.image_ids_dev) and not set(d.image_ids_dev) & set(d.image_ids_train)
    assert d.captions_test[0] == "The dogs are in the snow in front of a fence ."
    stored = load_dataset("flickr8k", data_home=shared_datasets, pair_rows=False)
    for key, (shape, dtype) in stored.metadata["arrays"].items():  # as the sidecar lists them
        assert list(stored[key].shape) == shape and str(stored[key].dtype) == dtype, key
