"""Loaders: integrity checks, clear errors for missing/corrupted data, verified downloads."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import shutil
import threading
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

from snnlib.data import datasets as data
from snnlib.data import downloads, encoding
from snnlib.data.location import DataError


# ----------------------------------------------------------------------------- local HTTP server
@contextmanager
def serve(files: dict[str, bytes]):
    """Serve ``files`` (path -> bytes) on 127.0.0.1 at a free port; 404 for anything else."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = files.get(self.path.lstrip("/"))
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _leftovers(folder: Path):
    return [p.name for p in folder.iterdir()] if folder.exists() else []


# ------------------------------------------------------------------------------------- download
def test_download_takes_the_first_mirror_that_verifies(tmp_path):
    good = b"the real content"

    def verify(p: Path):
        if p.read_bytes() != good:
            raise DataError("checksum mismatch")

    with serve({"bad/f": b"corrupted!", "good/f": good}) as url:
        out = downloads.download([url + "bad/f", url + "missing/f", url + "good/f"], tmp_path / "f", verify)
    assert out.read_bytes() == good
    assert _leftovers(tmp_path) == ["f"]  # no temporary files left behind


def test_download_rejects_corrupted_file_and_leaves_nothing(tmp_path):
    def verify(p: Path):
        raise DataError("checksum mismatch")

    with serve({"f": b"corrupted"}) as url:
        with pytest.raises(DataError, match="checksum mismatch"):
            downloads.download([url + "f"], tmp_path / "dl" / "f", verify)
    assert _leftovers(tmp_path / "dl") == []


@pytest.mark.data
def test_mnist_download_verifies_decompressed_bytes(data_dir, tmp_path):
    """A mirror serving the official labels recompressed is accepted (the check is on the
    decompressed bytes); one serving a single flipped byte is rejected and leaves nothing."""
    stem = "t10k-labels-idx1-ubyte"
    raw = gzip.decompress((data_dir / "mnist" / f"{stem}.gz").read_bytes())
    corrupted = bytearray(raw)
    corrupted[100] ^= 0xFF
    files = {f"bad/{stem}.gz": gzip.compress(bytes(corrupted)), f"good/{stem}.gz": gzip.compress(raw, 1)}
    with serve(files) as url:
        with pytest.raises(DataError) as e:
            data._mnist_file(tmp_path / "a", stem, True, [url + "bad/"])
        assert _leftovers(tmp_path / "a") == []
        assert "SNNLIB_DATA" in str(e.value) and "corrupted" in str(e.value)
        labels = data._mnist_file(tmp_path / "b", stem, True, [url + "bad/", url + "good/"])
    assert hashlib.sha256(raw).hexdigest() == data.MNIST_FILES[stem][0]
    np.testing.assert_array_equal(labels, np.frombuffer(raw, np.uint8, offset=8))


# ----------------------------------------------------------------------------------------- MNIST
def test_missing_mnist_names_folder_variable_and_files(tmp_path):
    with pytest.raises(DataError) as e:
        data.load_mnist("test", root=tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "mnist") in msg
    assert "SNNLIB_DATA" in msg
    assert "t10k-images-idx3-ubyte" in msg


@pytest.mark.data
def test_corrupted_mnist_file_is_refused(data_dir, tmp_path):
    (tmp_path / "mnist").mkdir()
    for f in (data_dir / "mnist").glob("t10k-*.gz"):
        shutil.copy(f, tmp_path / "mnist" / f.name)
    images = tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(gzip.decompress(images.read_bytes()))
    raw[5000] ^= 0x01  # one bit of one pixel
    images.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataError, match="corrupted"):
        data.load_mnist("test", root=tmp_path)


@pytest.mark.data
def test_mnist_splits(data_dir):
    x, y = data.load_mnist("test")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8 and y.shape == (10000,)
    xt, yt = data.load_mnist("train")
    xv, yv = data.load_mnist("val")
    xf, yf = data.load_mnist("train-full")
    assert len(xt) + len(xv) == len(xf) == 60000 and len(xv) == 5000
    # train and val partition the official training set: same multiset of labels, no digit twice
    np.testing.assert_array_equal(np.bincount(yt, minlength=10) + np.bincount(yv, minlength=10),
                                  np.bincount(yf, minlength=10))
    tr, va = data.split_indices(60000, 5000, 0)
    assert not np.intersect1d(tr, va).size
    np.testing.assert_array_equal(xv, xf[va])
    # deterministic: the same seed gives the same split; another seed another one
    np.testing.assert_array_equal(va, data.split_indices(60000, 5000, 0)[1])
    assert not np.array_equal(va, data.split_indices(60000, 5000, 1)[1])


@pytest.mark.data
def test_uncompressed_idx_is_read_like_gz(tmp_path, data_dir):
    raw = gzip.decompress((data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte").write_bytes(raw)
    labels = data._mnist_file(tmp_path / "mnist", "t10k-labels-idx1-ubyte", False, None)
    assert labels.shape == (10000,) and labels.max() == 9


def test_threshold_images_makes_ttfs_spikes_coincide():
    img = np.array([[0, 10, 127, 128, 200, 255]], dtype=np.uint8)
    th = data.threshold_images(img, 128)
    np.testing.assert_array_equal(th, [[0, 0, 0, 255, 255, 255]])
    t = encoding.ttfs(th, 100.0)[0, :, 0]
    assert t[:3].isinf().all() and (t[3:] == 0).all()
    with pytest.raises(ValueError, match="level"):
        data.threshold_images(img, 0)


# --------------------------------------------------------------------------------------- N-MNIST
@pytest.mark.data
def test_nmnist_quick_subset(data_dir):
    train, test = data.NMNIST("train"), data.NMNIST("test")
    assert (len(train), len(test)) == (1000, 100)
    ev, label = test[0]
    raw_size = train.files[0][0].stat().st_size
    assert raw_size % 5 == 0
    ev0, _ = train[0]
    # every 5-byte record is an event except timestamp-overflow markers (y == 240)
    raw = np.frombuffer(train.files[0][0].read_bytes(), np.uint8)
    assert len(ev0) == int((raw[1::5] != 240).sum())
    for e in (ev, ev0):
        assert e["x"].max() < 34 and e["y"].max() < 34 and set(np.unique(e["p"])) <= {0, 1}
        assert np.all(np.diff(e["t"]) >= 0)  # recordings are time-ordered (µs)
        assert 250_000 < e["t"].max() < 400_000  # three saccades of about 100 ms
    assert 0 <= label <= 9


def _copy_nmnist(src: Path, dst: Path) -> Path:
    shutil.copytree(src / "nmnist", dst / "nmnist", copy_function=lambda s, d: Path(d).symlink_to(Path(s).resolve()))
    return dst


@pytest.mark.data
def test_corrupted_nmnist_recording_is_refused(data_dir, tmp_path):
    root = _copy_nmnist(data_dir, tmp_path)
    ds = data.NMNIST("test", root=root)
    victim = ds.files[3][0]
    content = bytearray(victim.read_bytes())
    victim.unlink()
    content[7] ^= 0x10
    victim.write_bytes(bytes(content))
    ds[2]  # untouched recordings still load
    with pytest.raises(DataError, match="corrupted"):
        ds[3]


def test_missing_nmnist_names_folder_and_layout(tmp_path):
    with pytest.raises(DataError) as e:
        data.NMNIST("train", root=tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "nmnist") in msg and "Train/<label>/<NNNNN>.bin" in msg and "SNNLIB_DATA" in msg


@pytest.mark.data
def test_nmnist_full_download_from_local_mirror(data_dir, tmp_path):
    """The full-set downloader verifies each archive's MD5, extracts the official layout and
    writes a manifest so that every later read is verified; a corrupted archive is refused."""
    quick = data.NMNIST("test")
    picks = quick.files[:5]

    def archive(folder: str, corrupt=False) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for path, label, _ in picks:
                content = path.read_bytes()
                if corrupt:
                    content = content[:-5]
                z.writestr(f"{folder}/{label}/{path.name}", content)
        return buf.getvalue()

    good = archive("Test")
    md5 = hashlib.md5(good).hexdigest()
    with serve({"Test.zip": good, "bad.zip": archive("Test", corrupt=True)}) as url:
        with pytest.raises(DataError, match="MD5"):
            downloads.download_nmnist(tmp_path / "bad", sources={"test": (url + "bad.zip", md5)})
        assert not (tmp_path / "bad" / "nmnist" / "SHA256SUMS").exists()
        downloads.download_nmnist(tmp_path / "good", sources={"test": (url + "Test.zip", md5)})
    full = data.NMNIST("test", root=tmp_path / "good", subset="full")
    assert len(full) == 5
    for i in range(5):
        np.testing.assert_array_equal(full[i][0], quick[i][0])
        assert full[i][1] == quick[i][1]


# ------------------------------------------------------------------- corrupt and truncated files
def _idx_labels(n: int) -> bytes:
    """An unsigned-byte IDX1 file of ``n`` labels (magic 0x00000801)."""
    labels = np.random.default_rng(0).integers(0, 10, n, dtype=np.uint8)  # incompressible enough
    return (0x801).to_bytes(4, "big") + n.to_bytes(4, "big") + labels.tobytes()


def _assert_says_how_to_restore(msg: str, path: Path, dataset: str):
    assert str(path) in msg
    assert f"python -m snnlib download {dataset}" in msg and "SNNLIB_DATA" in msg


def test_corrupt_gz_names_the_file_and_how_to_restore_it(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    gz = bytearray(gzip.compress(_idx_labels(10000)))
    gz[40:80] = bytes(40)  # damage the deflate stream
    with pytest.raises(zlib.error):  # what the loader used to let through
        gzip.decompress(bytes(gz))
    path = folder / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(bytes(gz))
    with pytest.raises(DataError, match="is corrupt: it is not a valid gzip file") as e:
        data._mnist_file(folder, "t10k-labels-idx1-ubyte", False, None)
    _assert_says_how_to_restore(str(e.value), path, "mnist")


def test_truncated_gz_is_reported_as_corrupt(tmp_path):
    (tmp_path / "mnist").mkdir()
    path = tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(_idx_labels(10000))[:-100])
    with pytest.raises(DataError, match="corrupt") as e:
        data._mnist_file(tmp_path / "mnist", "t10k-labels-idx1-ubyte", False, None)
    _assert_says_how_to_restore(str(e.value), path, "mnist")


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_idx_says_truncated_with_sizes(tmp_path, gz):
    (tmp_path / "mnist").mkdir()
    raw = _idx_labels(10000)[:5008]  # the header announces 10,000 labels, 5,000 are there
    path = tmp_path / "mnist" / ("t10k-labels-idx1-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(raw) if gz else raw)
    with pytest.raises(DataError, match="is truncated") as e:
        data._mnist_file(tmp_path / "mnist", "t10k-labels-idx1-ubyte", False, None)
    assert "10000" in str(e.value) and "5008" in str(e.value)
    _assert_says_how_to_restore(str(e.value), path, "mnist")


def test_truncated_nmnist_recording_says_truncated(tmp_path):
    path = tmp_path / "00001.bin"
    path.write_bytes(bytes(5 * 20 + 3))  # 20 whole events and 3 bytes of a cut one
    for digest in (None, hashlib.sha256(b"the intact recording").hexdigest()):
        with pytest.raises(DataError, match="truncated or corrupt") as e:
            data.read_nmnist_events(path, digest)
        _assert_says_how_to_restore(str(e.value), path, "nmnist")


def test_corrupt_nmnist_recording_says_how_to_restore(tmp_path):
    path = tmp_path / "00001.bin"
    path.write_bytes(bytes(5 * 20))
    with pytest.raises(DataError, match="corrupted") as e:
        data.read_nmnist_events(path, hashlib.sha256(b"the intact recording").hexdigest())
    _assert_says_how_to_restore(str(e.value), path, "nmnist")


def test_split_indices_with_extra_held_out_samples_keeps_validation_and_partitions():
    tr, va = data.split_indices(1000, 100, 0)
    tr2, va2, ex = data.split_indices(1000, 100, 0, n_extra=200)
    np.testing.assert_array_equal(va, va2)  # the validation split does not move
    assert len(ex) == 200 and len(tr2) == 700
    assert np.array_equal(np.sort(np.concatenate([tr2, va2, ex])), np.arange(1000))
    with pytest.raises(ValueError, match="n_extra"):
        data.split_indices(1000, 100, 0, n_extra=900)


@pytest.mark.data
def test_nmnist_test_split_enlarged_from_held_out_training_recordings(data_dir):
    from snnlib.training.schemes import bptt

    base = bptt.load(bptt.Config(dataset="nmnist", n_val=100, hidden=(4,), n_steps=300))
    cfg = bptt.Config(dataset="nmnist", n_val=100, hidden=(4,), n_steps=300, test_from_train=200)
    sets = bptt.load(cfg)
    assert [len(sets[s][1]) for s in ("train", "val", "test")] == [700, 100, 300]
    np.testing.assert_array_equal(sets["val"][1], base["val"][1])
    np.testing.assert_array_equal(sets["test"][1][:100], base["test"][1])  # the official ones first
    ev, label = sets["test"][0][150]
    assert label == sets["test"][1][150] and len(ev) > 0
    with pytest.raises(ValueError, match="test_from_train"):
        bptt.Config(dataset="mnist", test_from_train=10)


def test_event_times_keep_each_inputs_events_in_order_and_pad_with_inf():
    from snnlib.data import encoding

    ev = np.zeros(5, dtype=[("x", np.int16), ("y", np.int16), ("p", np.int8), ("t", np.int64)])
    ev["x"], ev["y"], ev["p"] = [1, 1, 0, 1, 3], [0, 0, 2, 0, 3], [0, 0, 1, 0, 1]
    ev["t"] = [3000, 1000, 500, 2000, 400000]  # µs; the last is past a 300 ms window
    x = encoding.event_times([ev], t_max=300.0, sensor_size=(34, 34, 2))
    assert x.shape == (1, 2312, 3)
    np.testing.assert_array_equal(x[0, 1].numpy(), [1.0, 2.0, 3.0])  # input p*H*W + y*W + x = 1
    assert x[0, 34 * 34 + 2 * 34, 0] == 0.5 and torch.isinf(x[0, 34 * 34 + 2 * 34, 1:]).all()
    assert int(torch.isfinite(x).sum()) == 4
    assert encoding.event_times([ev], 300.0, max_per_input=2).shape[-1] == 2


@pytest.mark.data
def test_spike_time_scheme_trains_on_nmnist_event_streams(data_dir, isolated_runs):
    from snnlib.training import driver
    from snnlib.training.schemes import spiketime

    cfg = spiketime.Config(dataset="nmnist", hidden=(20,), n_train=40, n_val=20, n_test=20, epochs=1,
                           batch_size=20, t_max=300.0, theta_bats=(1.0, 1.3), test_from_train=10)
    ds = driver.run(cfg, progress=False)
    assert ds.attrs["sizes"] == "(2312, 20, 10)" and ds.attrs["n_test"] == 20
    assert np.isfinite(ds["train_loss"].values).all()
    with pytest.raises(ValueError, match="test_from_train"):
        spiketime.Config(dataset="mnist", test_from_train=5)

