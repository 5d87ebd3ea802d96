"""The CUDA path of every deep method, the evaluation and the index.

Every test here needs a CUDA device and skips without one. On a GPU machine
``benchmarks/bench_gpu.py`` runs this file first; ``python -m pytest
tests/test_cuda.py`` runs it alone.
"""

import pickle
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

from _deep_faults import AtBatch, poison  # noqa: E402
from conftest import REPO_ROOT  # noqa: E402
from skcross.datasets import make_cross_modal  # noqa: E402
from skcross.deep import DSCMR, DeepCrossModalMixin  # noqa: E402
from skcross.metrics import cross_modal_map, mean_average_precision  # noqa: E402
from skcross.retrieval import CrossModalIndex  # noqa: E402
from skcross.utils import all_estimators  # noqa: E402
from skcross.utils._testing import FAST_PARAMS  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

DEEP_NAMES = [name for name, cls in all_estimators() if issubclass(cls, DeepCrossModalMixin)]


def deep_estimator(name, **params):
    cls = dict(all_estimators())[name]
    return cls(**{**FAST_PARAMS[name], "max_epochs": 4, "batch_size": 30, "random_state": 0, **params})


@pytest.fixture(scope="module")
def data():
    return make_cross_modal(240, n_classes=4, random_state=0)


@pytest.fixture(scope="module")
def fitted_on_cuda(data):
    """Every deep method fitted on ``"cuda"`` (once for the module)."""
    return {name: deep_estimator(name, device="cuda").fit(*data) for name in DEEP_NAMES}


def _allocate_too_much(net):
    """A real allocation failure on the net's device (far more than any GPU holds)."""
    torch.empty(2**50, dtype=torch.uint8, device=net.device)


@pytest.mark.parametrize("name", DEEP_NAMES)
def test_fit_on_cuda_keeps_the_weights_there(name, fitted_on_cuda, data):
    model = fitted_on_cuda[name]
    assert model.device_ == "cuda"
    assert all(p.device.type == "cuda" for p in model.net_.module_.parameters())
    Z = model.transform_image(data[0])
    assert isinstance(Z, np.ndarray) and np.isfinite(Z).all()


def test_cuda_models_predict_on_a_cpu_only_machine(fitted_on_cuda, data, tmp_path):
    """Pickled on the GPU, loaded where CUDA is hidden: the same embeddings on the CPU."""
    X_img, X_txt, _ = data
    expected = {name: (m.transform_image(X_img), m.transform_text(X_txt)) for name, m in fitted_on_cuda.items()}
    (tmp_path / "models.pkl").write_bytes(pickle.dumps(fitted_on_cuda))
    np.savez(tmp_path / "X.npz", image=X_img, text=X_txt)
    code = (
        "import pickle, warnings, numpy as np, torch; assert not torch.cuda.is_available();"
        "warnings.simplefilter('ignore');"
        f"models = pickle.loads(open(r'{tmp_path / 'models.pkl'}', 'rb').read());"
        f"X = np.load(r'{tmp_path / 'X.npz'}');"
        f"np.savez(r'{tmp_path / 'Z.npz'}', **{{name + '|' + side: getattr(m, 'transform_' + side)(X[side])"
        " for name, m in models.items() for side in ('image', 'text')});"
    )
    env = {"CUDA_VISIBLE_DEVICES": "", "PATH": "", "PYTHONPATH": ":".join(sys.path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=REPO_ROOT)
    Z = np.load(tmp_path / "Z.npz")
    for name, (Z_img, Z_txt) in expected.items():
        np.testing.assert_allclose(Z[f"{name}|image"], Z_img, rtol=1e-4, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(Z[f"{name}|text"], Z_txt, rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("name", DEEP_NAMES)
def test_save_params_on_cuda_load_params_on_cpu(name, fitted_on_cuda, data, tmp_path):
    X_img, X_txt, y = data
    on_cuda = fitted_on_cuda[name]
    on_cuda.net_.save_params(f_params=tmp_path / "params.pt")
    on_cpu = deep_estimator(name, device="cpu", random_state=1).fit(X_img, X_txt, y)
    on_cpu.net_.load_params(f_params=tmp_path / "params.pt")
    assert all(p.device.type == "cpu" for p in on_cpu.net_.module_.parameters())
    # the networks' own outputs (DCCA's final linear CCA and UNCSM's scalers are fitted beside the net)
    x = torch.as_tensor(X_img[:50], dtype=torch.float32)
    with torch.no_grad():
        expected = on_cuda.net_.module_.embed_image(x.to("cuda")).cpu().numpy()
        np.testing.assert_allclose(on_cpu.net_.module_.embed_image(x).numpy(), expected, rtol=1e-4, atol=1e-5)


def test_device_cuda_0(data):
    model = DSCMR(**FAST_PARAMS["DSCMR"]).set_params(device="cuda:0", max_epochs=2).fit(*data)
    assert model.device_ == "cuda:0"
    assert {p.device for p in model.net_.module_.parameters()} == {torch.device("cuda", 0)}
    S = model.similarity(data[0], data[1])
    expected = (mean_average_precision(S, data[2], data[2]) + mean_average_precision(S.T, data[2], data[2])) / 2
    assert model.score(*data) == pytest.approx(expected)


@pytest.mark.parametrize("name", DEEP_NAMES)
def test_nan_guard_on_cuda(name, data):
    model = deep_estimator(name, device="cuda", callbacks=[AtBatch(3, poison)])
    with pytest.raises(FloatingPointError, match="epoch"):
        model.fit(*data)
    with pytest.raises(NotFittedError):
        model.transform_image(data[0])


@pytest.mark.parametrize("name", DEEP_NAMES)
def test_real_out_of_memory_on_cuda_says_which_batch_size_to_lower(name, data):
    model = deep_estimator(name, device="cuda", callbacks=[AtBatch(2, _allocate_too_much)])
    with pytest.raises(MemoryError, match=r"device 'cuda'.*lower batch_size .e.g. batch_size=15"):
        model.fit(*data)
    with pytest.raises(NotFittedError):
        model.transform_image(data[0])
    torch.cuda.empty_cache()
    clone(model).set_params(callbacks=None).fit(*data)  # the device is usable afterwards


@pytest.mark.parametrize("name", DEEP_NAMES)
def test_mixed_devices_rank_alike(name, fitted_on_cuda, data):
    """A GPU model evaluated and searched on the CPU, and the reverse, gives the same rankings."""
    X_img, X_txt, y = data
    model = fitted_on_cuda[name]
    on_gpu = cross_modal_map(model, X_img, X_txt, y, device="cuda")
    on_cpu = cross_modal_map(model, X_img, X_txt, y, device="cpu")
    numpy_path = cross_modal_map(model, X_img, X_txt, y)
    for key in ("i2t", "t2i"):  # float32 on the GPU, float64 in NumPy: near-ties may swap, nothing more
        assert on_gpu[key] == pytest.approx(on_cpu[key], abs=1e-4)
        assert on_gpu[key] == pytest.approx(numpy_path[key], abs=1e-4)
    cpu_model = deep_estimator(name, device="cpu").fit(*data)
    assert cross_modal_map(cpu_model, X_img, X_txt, y, device="cuda")["mean"] == pytest.approx(
        cross_modal_map(cpu_model, X_img, X_txt, y)["mean"], abs=1e-4)
    found = {}
    for device in ("cuda", "cpu"):
        index = CrossModalIndex(model, device=device).add(X_txt, modality="text")
        found[device] = index.search(X_img[:20], k=10)
    np.testing.assert_allclose(found["cuda"][0], found["cpu"][0], rtol=1e-4, atol=1e-5)
    assert np.mean(found["cuda"][1] == found["cpu"][1]) > 0.95


def test_cuda_and_cpu_training_agree_in_quality(data):
    X_img, X_txt, y = data
    scores = [
        cross_modal_map(DSCMR(**{**FAST_PARAMS["DSCMR"], "device": device, "max_epochs": 20, "random_state": 0})
                        .fit(X_img, X_txt, y), X_img, X_txt, y)["mean"]
        for device in ("cpu", "cuda")
    ]
    assert scores[1] == pytest.approx(scores[0], abs=0.05)
