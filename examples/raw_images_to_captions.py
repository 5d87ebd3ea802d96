"""From image files and caption strings to a ranked list of captions.

Raw images and sentences go through pretrained encoders (EfficientNet-Lite0 from timm,
all-MiniLM-L6-v2 from sentence-transformers) and CCA inside one pipeline; a
CrossModalIndex then returns the top-5 captions for an image. The data are crops of
scikit-learn's two sample photos (a Chinese temple and a flower), written as JPEG files,
each with a caption of its photo.

Run it with downloaded weights (timm's and the hub's defaults, needs a network once)::

    python examples/raw_images_to_captions.py

or offline, with local files::

    python examples/raw_images_to_captions.py --image-weights tf_efficientnet_lite0.pth \\
        --text-model /path/to/all-MiniLM-L6-v2
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_sample_images

from skcross import paired
from skcross.feature_extraction import ImageEncoder, TextEncoder
from skcross.linear import CCA
from skcross.pipeline import Pipeline
from skcross.preprocessing import ModalityTransformer
from skcross.retrieval import CrossModalIndex

CAPTIONS = [
    ["an old chinese temple with a curved tiled roof", "a traditional pagoda building in a park",
     "red columns and a tiled roof of a palace", "a historic building among trees"],
    ["a close-up of a pink flower", "a blossom with soft petals", "a flower with a yellow centre",
     "petals of a garden flower"],
]


def write_crops(folder, n_per_photo=8, size=160, seed=0):
    """Save random square crops of the two sample photos; return the paths and each crop's photo."""
    rng = np.random.default_rng(seed)
    paths, photo = [], []
    for p, image in enumerate(load_sample_images().images):
        height, width, _ = image.shape
        for i in range(n_per_photo):
            top, left = rng.integers(0, height - size), rng.integers(0, width - size)
            path = Path(folder) / f"photo{p}_crop{i}.jpg"
            Image.fromarray(image[top:top + size, left:left + size]).save(path)
            paths.append(str(path))
            photo.append(p)
    return paths, np.array(photo)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-weights", default="pretrained",
                        help="timm's 'pretrained' (download) or a local tf_efficientnet_lite0 weights file")
    parser.add_argument("--text-model", default="all-MiniLM-L6-v2",
                        help="a sentence-transformers name (download) or a local model directory")
    parser.add_argument("--workdir", default=None, help="where the image files are written (a temporary folder)")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp())
    workdir.mkdir(parents=True, exist_ok=True)

    paths, photo = write_crops(workdir)
    rng = np.random.default_rng(0)
    captions = [CAPTIONS[p][rng.integers(len(CAPTIONS[p]))] for p in photo]

    model = Pipeline([
        ("encode", ModalityTransformer(
            image=ImageEncoder("tf_efficientnet_lite0", weights=args.image_weights),
            text=TextEncoder(args.text_model),
        )),
        ("cca", CCA(n_components=2, reg=1.0)),
    ])
    model.fit(paired(paths, captions))

    all_captions = [caption for photo_captions in CAPTIONS for caption in photo_captions]
    index = CrossModalIndex(model).add(all_captions, modality="text")
    query = paths[-1]  # a crop of the flower photo
    scores, ids = index.search([query], k=5)
    print(f"top-5 captions for {Path(query).name}:")
    for score, i in zip(scores[0], ids[0]):
        print(f"  {score:.3f}  {all_captions[i]}")


if __name__ == "__main__":
    main()
