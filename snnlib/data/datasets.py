"""Datasets: MNIST (IDX), thresholded MNIST, N-MNIST (official ``.bin`` layout), with integrity checks.

Where the data lives
    ``root`` argument, else ``$SNNLIB_DATA``, else ``data/`` (relative to the working directory).
    MNIST is read from ``<root>/mnist/`` and N-MNIST from ``<root>/nmnist/{Train,Test}/<label>/``.

Integrity
    MNIST files are checked on their *decompressed* bytes against the published SHA-256 (so a
    recompressed ``.gz`` is accepted and a corrupted one is not). N-MNIST recordings are checked
    file by file against a manifest: the 1,100-recording "quick" subset against the list shipped
    in :mod:`snnlib.data` (``data/checksums/nmnist_quick.txt``), a full set against the ``SHA256SUMS``
    written when it was downloaded and its archives verified.

Missing data
    Downloaded from the public mirrors when ``download=True`` (verified, written atomically, a
    corrupted download is deleted). When that fails, :class:`DataError` names the folder, the
    variable and the expected files.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from snnlib.data.downloads import download, download_nmnist
from snnlib.data.location import SPLIT_FOLDER, DataError, data_root, restore_hint
from snnlib.files import sha256_bytes

__all__ = [
    "load_mnist",
    "threshold_images",
    "split_indices",
    "NMNIST",
    "nmnist_files",
    "read_nmnist_events",
    "NMNIST_SENSOR_SIZE",
    "fetch",
]

# ------------------------------------------------------------------------------------------ MNIST
#: file stem -> (SHA-256 of the decompressed bytes, number of items); the published values.
MNIST_FILES = {
    "train-images-idx3-ubyte": ("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 60000),
    "train-labels-idx1-ubyte": ("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60000),
    "t10k-images-idx3-ubyte": ("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 10000),
    "t10k-labels-idx1-ubyte": ("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10000),
}

#: Public mirrors of the official ``.gz`` files (override with ``$SNNLIB_MNIST_MIRRORS``, comma-separated).
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)


def _mnist_mirrors(mirrors: Sequence[str] | None) -> list[str]:
    if mirrors is not None:
        return list(mirrors)
    env = os.environ.get("SNNLIB_MNIST_MIRRORS")
    return [m.strip() for m in env.split(",") if m.strip()] if env else list(MNIST_MIRRORS)


def _decompressed(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        # zlib.error: a damaged deflate stream; EOFError: a truncated one; OSError: a bad header/CRC
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(
                f"{path} is corrupt: it is not a valid gzip file ({type(e).__name__}: {e}). "
                + restore_hint("mnist")
            ) from e
    return raw


def _idx_shape(raw: bytes, path: Path) -> tuple[int, tuple[int, ...]]:
    """Header offset and shape of an unsigned-byte IDX file, refusing a truncated one."""
    if len(raw) < 4:
        raise DataError(f"{path} is truncated: {len(raw)} bytes, shorter than an IDX header. "
                        + restore_hint("mnist"))
    magic = int.from_bytes(raw[:4], "big")
    ndim = magic & 0xFF
    if magic >> 8 != 0x08 or not 1 <= ndim <= 4:  # 0x08: unsigned byte
        raise DataError(f"{path} is corrupt: not an unsigned-byte IDX file (magic {magic:#x}). "
                        + restore_hint("mnist"))
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise DataError(f"{path} is truncated: {len(raw)} bytes, shorter than its IDX header. "
                        + restore_hint("mnist"))
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = offset + int(np.prod(shape))
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "corrupt"
        raise DataError(
            f"{path} is {what}: its header announces {' x '.join(map(str, shape))} bytes of data "
            f"({expected} bytes in all), the (decompressed) file has {len(raw)}. " + restore_hint("mnist")
        )
    return offset, shape


def _verify_mnist(stem: str) -> Callable[[Path], None]:
    def verify(path: Path) -> None:
        digest = sha256_bytes(_decompressed(path))
        if digest != MNIST_FILES[stem][0]:
            raise DataError(
                f"{path} is corrupted: SHA-256 of its decompressed bytes is {digest}, "
                f"expected {MNIST_FILES[stem][0]}."
            )

    return verify


def _missing_mnist_message(folder: Path, stems: Iterable[str], why: str = "") -> str:
    files = "\n".join(f"  {folder / s}.gz (or without .gz)" for s in stems)
    return (
        f"MNIST is missing from {folder}.\nExpected:\n{files}\n"
        "Put the official IDX files there, or point SNNLIB_DATA at the folder that holds mnist/ "
        "(e.g. `export SNNLIB_DATA=../shared/data`), or fetch them with `python -m snnlib download mnist` "
        "(or download=True) on a machine with network access." + (f"\n{why}" if why else "")
    )


@lru_cache(maxsize=8)
def _read_idx_cached(path: str, size: int, mtime_ns: int, stem: str) -> np.ndarray:
    raw = _decompressed(Path(path))
    offset, shape = _idx_shape(raw, Path(path))  # names a truncated file as such, before the checksum
    digest = sha256_bytes(raw)
    if digest != MNIST_FILES[stem][0]:
        raise DataError(
            f"{path} is corrupted: SHA-256 of its decompressed bytes is {digest}, expected "
            f"{MNIST_FILES[stem][0]}. " + restore_hint("mnist")
        )
    arr = np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape)
    arr.setflags(write=False)
    return arr


def _mnist_file(folder: Path, stem: str, download_: bool, mirrors: Sequence[str] | None) -> np.ndarray:
    for name in (stem + ".gz", stem):
        path = folder / name
        if path.is_file():
            st = path.stat()
            return _read_idx_cached(str(path), st.st_size, st.st_mtime_ns, stem)
    if not download_:
        raise DataError(_missing_mnist_message(folder, [stem]))
    urls = [m.rstrip("/") + "/" + stem + ".gz" for m in _mnist_mirrors(mirrors)]
    try:
        download(urls, folder / (stem + ".gz"), _verify_mnist(stem))
    except DataError as e:
        raise DataError(_missing_mnist_message(folder, [stem], str(e))) from e
    return _mnist_file(folder, stem, False, mirrors)


def split_indices(n_train: int = 60000, n_val: int = 5000, seed: int = 0, n_extra: int = 0):
    """Deterministic train/validation split of the official training set: sorted index arrays
    ``(train, val)``; with ``n_extra > 0`` also ``extra``, ``n_extra`` more samples held out of
    training (disjoint from validation, which does not change with ``n_extra``): ``(train, val, extra)``."""
    if n_val < 0 or n_extra < 0 or not n_val + n_extra < n_train:
        raise ValueError(f"n_val = {n_val}, n_extra = {n_extra}: expected n_val, n_extra >= 0 and "
                         f"n_val + n_extra < {n_train} (the training samples available).")
    perm = np.random.default_rng(seed).permutation(n_train)
    held = n_val + n_extra
    if n_extra == 0:
        return np.sort(perm[held:]), np.sort(perm[:n_val])
    return np.sort(perm[held:]), np.sort(perm[:n_val]), np.sort(perm[n_val:held])


def load_mnist(
    split: str = "train",
    root: str | os.PathLike | None = None,
    *,
    n_val: int = 5000,
    val_seed: int = 0,
    download: bool = False,
    mirrors: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST images ``[N, 28, 28]`` (uint8) and labels ``[N]`` (int64) of one split.

    ``split``: ``"train"`` (the official training set less the validation digits), ``"val"``
    (``n_val`` digits carved from the official training set with ``val_seed``: for model
    selection), ``"train-full"`` (all 60,000) or ``"test"`` (the official 10,000; final numbers only).
    """
    if split not in ("train", "val", "train-full", "test"):
        raise ValueError(f"split = {split!r}: expected 'train', 'val', 'train-full' or 'test'.")
    folder = data_root(root) / "mnist"
    prefix = "t10k" if split == "test" else "train"
    images = _mnist_file(folder, f"{prefix}-images-idx3-ubyte", download, mirrors)
    labels = _mnist_file(folder, f"{prefix}-labels-idx1-ubyte", download, mirrors)
    if len(images) != len(labels):
        raise DataError(f"{folder}: {len(images)} images but {len(labels)} labels.")
    if split in ("train", "val"):
        train_idx, val_idx = split_indices(len(images), n_val, val_seed)
        idx = train_idx if split == "train" else val_idx
        return images[idx], labels[idx].astype(np.int64)
    return images, labels.astype(np.int64)


def threshold_images(images: np.ndarray, level: int = 128) -> np.ndarray:
    """Thresholded MNIST: pixels ``>= level`` become 255, the rest 0.

    With time-to-first-spike coding every active pixel then spikes at ``t = 0``, so all input
    spikes coincide (the transfer experiment uses this to suppress spike-time interpolation).
    """
    if not 0 < level <= 255:
        raise ValueError(f"level = {level} must be in (0, 255].")
    return np.where(images >= level, 255, 0).astype(np.uint8)


# ---------------------------------------------------------------------------------------- N-MNIST
NMNIST_SENSOR_SIZE = (34, 34, 2)


@lru_cache(maxsize=1)
def _quick_manifest() -> dict[str, str]:
    text = (Path(__file__).parent / "checksums" / "nmnist_quick.txt").read_text()
    return _parse_manifest(text)


def _parse_manifest(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.strip():
            digest, rel = line.split(maxsplit=1)
            out[rel.strip().lstrip("./")] = digest
    return out


def _missing_nmnist_message(folder: Path, what: str) -> str:
    return (
        f"N-MNIST: {what} in {folder}.\n"
        "Expected the official layout: Train/<label>/<NNNNN>.bin and Test/<label>/<NNNNN>.bin.\n"
        "Point SNNLIB_DATA at the folder that holds nmnist/ (e.g. `export SNNLIB_DATA=../shared/data`), "
        "or fetch the full set with `.venv/bin/python -m snnlib download nmnist` on a machine with "
        "network access."
    )


def nmnist_files(
    split: str = "train", root: str | os.PathLike | None = None, subset: str = "quick"
) -> list[tuple[Path, int, str]]:
    """``(path, label, sha256)`` of the recordings of one split, sorted by sample index.

    ``subset="quick"``: exactly the 1,000 training / 100 test recordings that ship with the
    project's development data (the first of each split), whatever else is present, so quick-profile
    results are the same on every machine. ``subset="full"``: every recording listed in the
    folder's ``SHA256SUMS`` (written by :func:`download_nmnist`).
    """
    if split not in SPLIT_FOLDER:
        raise ValueError(f"split = {split!r}: expected 'train' or 'test'.")
    folder = data_root(root) / "nmnist"
    if subset == "quick":
        manifest = _quick_manifest()
    elif subset == "full":
        sums = folder / "SHA256SUMS"
        if not sums.is_file():
            raise DataError(_missing_nmnist_message(folder, "no SHA256SUMS manifest for the full set"))
        manifest = _parse_manifest(sums.read_text())
    else:
        raise ValueError(f"subset = {subset!r}: expected 'quick' or 'full'.")
    top = SPLIT_FOLDER[split] + "/"
    rows = sorted(
        ((int(Path(rel).stem), int(Path(rel).parent.name), rel, d) for rel, d in manifest.items()
         if rel.startswith(top)),
    )
    missing = [rel for _, _, rel, _ in rows if not (folder / rel).is_file()]
    if missing:
        raise DataError(
            _missing_nmnist_message(folder, f"{len(missing)} of {len(rows)} {split} recordings are missing "
                                    f"(first: {missing[0]})")
        )
    return [(folder / rel, label, d) for _, label, rel, d in rows]


def read_nmnist_events(path: str | os.PathLike, sha256: str | None = None) -> np.ndarray:
    """Events of one recording as tonic's structured array (fields x, y, t [µs], p).

    Decoded with :func:`tonic.io.read_mnist_file` (which also unwraps the timestamp overflow
    markers); verified against ``sha256`` when given.
    """
    import tonic.io  # optional: tonic (slow to import), only for N-MNIST
    from tonic.datasets import NMNIST as _TonicNMNIST  # optional: tonic (slow to import), only for N-MNIST

    path = Path(path)
    raw = path.read_bytes()
    # a truncated recording says so first (5-byte events), whether or not a checksum is known
    if len(raw) % 5 or not raw:
        raise DataError(f"{path} is truncated or corrupt: {len(raw)} bytes is not a whole number of "
                        f"5-byte N-MNIST events. " + restore_hint("nmnist"))
    if sha256 is not None and sha256_bytes(raw) != sha256:
        raise DataError(f"{path} is corrupted: its SHA-256 does not match the manifest ({sha256}). "
                        + restore_hint("nmnist"))
    return tonic.io.read_mnist_file(io.BytesIO(raw), dtype=_TonicNMNIST.dtype, is_stream=True)


class NMNIST:
    """N-MNIST recordings of one split read from the official folder layout.

    ``ds[i]`` is ``(events, label)``, events as tonic's structured array (``t`` in µs), passed
    through ``transform`` (e.g. ``tonic.transforms.ToFrame``) when given. Each file's checksum is
    verified as it is read.
    """

    sensor_size = NMNIST_SENSOR_SIZE

    def __init__(
        self,
        split: str = "train",
        root: str | os.PathLike | None = None,
        subset: str = "quick",
        transform: Callable | None = None,
    ):
        self.split, self.subset, self.transform = split, subset, transform
        self.files = nmnist_files(split, root, subset)
        self.targets = np.array([label for _, label, _ in self.files], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        path, label, digest = self.files[i]
        events = read_nmnist_events(path, digest)
        if self.transform is not None:
            events = self.transform(events)
        return events, label


def fetch(dataset: str, root: str | os.PathLike | None = None) -> Path:
    """Download ``dataset`` (``"mnist"``: both splits; ``"nmnist"``: the full set) into the data
    folder from the public mirrors, verified; returns the data folder (``python -m snnlib download``)."""
    if dataset == "mnist":
        for split in ("train-full", "test"):
            load_mnist(split, root=root, download=True)
    elif dataset == "nmnist":
        download_nmnist(root)
    else:
        raise ValueError(f"dataset = {dataset!r}: expected 'mnist' or 'nmnist'.")
    return data_root(root)
