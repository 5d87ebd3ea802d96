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
# torch: the version is pinned so that every machine tests the same release. A
# version pin does NOT choose the CPU or CUDA variant: PyPI's Linux wheel of
# torch depends on the CUDA libraries (several GB) whatever the version. For a
# CPU-only install, point SKCROSS_TORCH_INDEX_URL at PyTorch's CPU wheel index:
#   SKCROSS_TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu bash tools/install.sh
# Without it, torch comes from the default index (PyPI, or a local mirror/cache).
TORCH_VERSION=${SKCROSS_TORCH_VERSION:-2.13.0}
if [ -n "${SKCROSS_TORCH_INDEX_URL:-}" ]; then
    pip install --quiet "torch==${TORCH_VERSION}" --index-url "$SKCROSS_TORCH_INDEX_URL"
else
    pip install --quiet "torch==${TORCH_VERSION}"
fi
# scikit-learn-extra's wheel does not import with numpy 2; build it from source
# against the numpy installed here. This needs a C compiler (gcc or clang) and
# Python's headers (e.g. Debian's python3-dev).
pip install --quiet cython setuptools wheel numpy
if ! .venv/bin/python -c "import sklearn_extra.cluster" 2>/dev/null; then
    pip install --quiet --no-build-isolation --no-binary scikit-learn-extra scikit-learn-extra
fi
pip install --quiet --no-build-isolation -e ".[all]"
.venv/bin/python -c "import skcross, torch, skorch, sklearn_extra.cluster; print('skcross', skcross.__version__, 'ready in .venv')"
