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
# Pin torch: an unpinned requirement can pull a multi-GB CUDA build.
pip install --quiet torch==2.13.0
# scikit-learn-extra's wheel does not import with numpy 2; build it from source
# against the numpy installed here.
pip install --quiet cython setuptools wheel numpy
if ! .venv/bin/python -c "import sklearn_extra.cluster" 2>/dev/null; then
    pip install --quiet --no-build-isolation --no-binary scikit-learn-extra scikit-learn-extra
fi
pip install --quiet --no-build-isolation -e ".[all]"
.venv/bin/python -c "import skcross, torch, skorch, sklearn_extra.cluster; print('skcross', skcross.__version__, 'ready in .venv')"
