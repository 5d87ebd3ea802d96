"""Encoded features on disk, keyed by (encoder identity, content of the item).

Why not ``joblib.Memory``: it memoises a whole call under the hash of all its
arguments, so a call on a subset (a grid search's fold), a superset (a dataset
that grew) or a call interrupted halfway reuses nothing. Encoding is a pure
function of each item, so the cache is kept per item: a folder per encoder
identity holds shards, each one chunk of encoded items written as soon as the
chunk is done (features, then the keys that commit them, each file written to a
temporary name and renamed, so a killed process leaves either a whole shard or
none). A lookup reads every shard's keys and memory-maps only the features it
needs.
"""

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["FeatureCache", "content_key", "file_key"]

_KEY_CHARS = 64


def content_key(*parts):
    """SHA-256 (hex) of byte strings or strings, each length-prefixed so that parts cannot run together."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else bytes(part)
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def file_key(path):
    """SHA-256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _save_atomically(path, array):
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".", suffix=".part", delete=False) as tmp:
        try:
            np.save(tmp, array, allow_pickle=False)
            tmp.flush()
            os.fsync(tmp.fileno())
            tmp.close()
            os.replace(tmp.name, path)
        finally:
            if os.path.exists(tmp.name):
                os.remove(tmp.name)


class FeatureCache:
    """A folder of encoded features for one encoder identity.

    Parameters
    ----------
    directory : path-like
        The cache's root; this identity's shards live in a sub-folder named
        by the identity's hash, beside an ``identity.json`` that says what it
        is.
    identity : dict
        JSON-serialisable description of the encoder (model, weights hash,
        layer, preprocessing, library versions).

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> from skcross.utils._feature_cache import FeatureCache, content_key
    >>> cache = FeatureCache(tempfile.mkdtemp(), {"model": "demo"})
    >>> keys = [content_key("a"), content_key("b")]
    >>> cache.store(keys, np.eye(2, dtype=np.float32))
    >>> found = cache.lookup([keys[1], content_key("c")])
    >>> sorted(found) == [keys[1]], found[keys[1]].tolist()
    (True, [0.0, 1.0])
    """

    def __init__(self, directory, identity):
        self.identity = identity
        description = json.dumps(identity, sort_keys=True, default=str)
        self.key = content_key(description)[:32]
        self.path = Path(directory).expanduser() / self.key
        self.path.mkdir(parents=True, exist_ok=True)
        card = self.path / "identity.json"
        if not card.exists():
            with tempfile.NamedTemporaryFile("w", dir=self.path, prefix=".", suffix=".part", delete=False) as tmp:
                tmp.write(json.dumps(identity, sort_keys=True, indent=1, default=str))
            os.replace(tmp.name, card)

    def _shards(self):
        return sorted(self.path.glob("*.keys.npy"))

    def lookup(self, keys):
        """Features of the ``keys`` already stored: a dict key -> 1-D float32 array (missing keys are absent)."""
        wanted, found = set(keys), {}
        for keys_file in self._shards():
            if not wanted:
                break
            try:
                shard_keys = np.load(keys_file, allow_pickle=False)
            except (OSError, ValueError):  # a shard removed or damaged under us: encode its items again
                continue
            rows = [(r, key) for r, key in enumerate(shard_keys.tolist()) if key in wanted]
            if not rows:
                continue
            features = np.load(str(keys_file)[: -len(".keys.npy")] + ".npy", mmap_mode="r", allow_pickle=False)
            for r, key in rows:
                found[key] = np.array(features[r], dtype=np.float32)
                wanted.discard(key)
        return found

    def store(self, keys, features):
        """Write one shard: ``features[i]`` is the encoding of ``keys[i]``; the keys file commits it."""
        keys = np.asarray(list(keys), dtype=f"<U{_KEY_CHARS}")
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or len(features) != len(keys):
            raise ValueError(f"features must be (n_keys, n_features), got {features.shape} for {len(keys)} keys.")
        shard = content_key(*keys.tolist())[:24]
        _save_atomically(self.path / f"{shard}.npy", features)
        _save_atomically(self.path / f"{shard}.keys.npy", keys)

    def __len__(self):
        return sum(len(np.load(f, mmap_mode="r")) for f in self._shards())
