"""``python -m skcross.benchmark``: see :func:`skcross.benchmark.main`."""

import sys

from ._cli import main

sys.exit(main())
