"""Verified downloads: the generic :func:`download` (first mirror whose file verifies, written
atomically) and :func:`download_nmnist` (the full N-MNIST, with a manifest for later reads).
Re-exported by :mod:`snnlib.data` (which this module imports only inside its functions)."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable, Sequence

from snnlib.data.location import SPLIT_FOLDER, DataError, data_root
from snnlib.files import atomic_write, sha256_bytes

__all__ = ["download", "download_nmnist"]

def download(
    urls: Sequence[str],
    dest: str | os.PathLike,
    verify: Callable[[Path], None],
    timeout: float = 60.0,
) -> Path:
    """Fetch ``dest`` from the first of ``urls`` whose content passes ``verify``.

    The file is written to a temporary name beside ``dest`` and renamed only once ``verify`` (which
    raises :class:`DataError` on a bad file) accepts it; a rejected or interrupted download leaves
    nothing behind. Raises :class:`DataError` listing every URL and why it failed.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        os.close(fd)
        tmp = Path(tmp)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
                shutil.copyfileobj(r, f)
            verify(tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
            return dest
        except (urllib.error.URLError, OSError, DataError) as e:
            failures.append(f"  {url}: {e}")
        finally:
            if tmp.exists():
                tmp.unlink()
    raise DataError(f"Could not download {dest.name}:\n" + "\n".join(failures))


def _verify_md5(expected: str) -> Callable[[Path], None]:
    def verify(path: Path) -> None:
        h = hashlib.md5()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        if h.hexdigest() != expected:
            raise DataError(f"{path.name}: MD5 {h.hexdigest()} does not match the published {expected}.")

    return verify


def download_nmnist(
    root: str | os.PathLike | None = None,
    sources: dict[str, tuple[str, str]] | None = None,
) -> Path:
    """Download the full N-MNIST (``Train.zip``, ``Test.zip``) from its public mirror.

    Each archive is verified against its published MD5 (the values tonic uses), extracted into
    ``<root>/nmnist/``, and a ``SHA256SUMS`` manifest of every extracted recording is written so
    later reads verify each file. ``sources`` maps ``"train"``/``"test"`` to ``(url, md5)``
    (default: tonic's).
    """
    from tonic.datasets import NMNIST as _TonicNMNIST  # optional: tonic (slow to import), only for N-MNIST


    if sources is None:
        sources = {
            "train": (_TonicNMNIST.train_url, _TonicNMNIST.train_md5),
            "test": (_TonicNMNIST.test_url, _TonicNMNIST.test_md5),
        }
    folder = data_root(root) / "nmnist"
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for split, (url, md5) in sources.items():
        archive = download([url], folder / f"{SPLIT_FOLDER[split]}.zip", _verify_md5(md5))
        with zipfile.ZipFile(archive) as z:
            for member in z.namelist():
                parts = Path(member).parts
                if member.endswith(".bin") and SPLIT_FOLDER[split] in parts:
                    rel = Path(*parts[parts.index(SPLIT_FOLDER[split]):])
                    data = z.read(member)
                    (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                    (folder / rel).write_bytes(data)
                    lines.append(f"{sha256_bytes(data)}  {rel.as_posix()}")
        archive.unlink()

    atomic_write(folder / "SHA256SUMS", "\n".join(sorted(lines, key=lambda s: s.split()[1])) + "\n")
    return folder
