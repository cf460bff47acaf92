#!/usr/bin/python3
"""Writes the .npy/.npz fixtures of tests/npy_test.cpp with NumPy itself, and a manifest of
what each holds. Deterministic: run it again and nothing changes (np.savez's zip timestamps
come from a pinned clock).

    /usr/bin/python3 tests/npy/gen_npy_fixtures.py            # rewrite tests/npy/
    /usr/bin/python3 tests/npy/gen_npy_fixtures.py --verify DIR

--verify reads files that the C++ writer left in DIR (set MHACHECK_NPY_KEEP=DIR when running
the [npy] tests) with NumPy and compares them with DIR/expected.json. The test suite never runs
this script: CI has no NumPy.
"""
import io
import json
import os
import struct
import sys
import time
import warnings
import zipfile
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MAGIC = b"\x93NUMPY"

NAMES = {"f2": "float16", "f4": "float32", "f8": "float64", "b1": "bool", "u1": "uint8",
         "i1": "int8", "i2": "int16", "i4": "int32", "i8": "int64"}


def values(code, shape):
    """Deterministic values that exercise sign, fractions and every byte of the element."""
    n = int(np.prod(shape, dtype=np.int64))
    k = np.arange(n, dtype=np.int64)
    if code == "f2":
        v = (k - 5) * 0.25 + 0.125
    elif code in ("f4", "f8"):
        v = (k - 5) * 0.3 + (1e10 if code == "f8" else 1e3)
    elif code == "b1":
        v = k % 3 == 0
    elif code == "u1":
        v = (k * 23 + 200) % 256
    elif code == "i1":
        v = (k * 37) % 256 - 128
    elif code == "i2":
        v = (k * 4099) % 65536 - 32768
    elif code == "i4":
        v = k * 100003 - 2**31 + 7
    else:  # i8: beyond 32 bits but exact as a double (the test compares doubles)
        v = k * (2**40 + 3) - 2**50
    return np.asarray(v).astype(np.dtype(code)).reshape(shape)


class Fixtures:
    def __init__(self, folder):
        self.folder = folder
        self.manifest = {"arrays": [], "archives": {}}

    def record(self, name, array, member=None, **facts):
        entry = {"file": name, "dtype": array.dtype.name, "shape": list(array.shape),
                 "values": [float(x) for x in np.ravel(array, order="C").astype(np.float64)]}
        if member is not None:
            entry["member"] = member
        entry.update(facts)
        self.manifest["arrays"].append(entry)

    def save(self, name, array, version=None):
        path = os.path.join(self.folder, name)
        with open(path, "wb") as f:
            np.lib.format.write_array(f, array, version=version, allow_pickle=False)
        loaded = np.load(path)
        assert loaded.dtype == array.dtype and loaded.shape == array.shape and np.array_equal(loaded, array)
        fortran = array.ndim > 1 and array.flags.f_contiguous and not array.flags.c_contiguous
        self.record(name, array, fortran_order=fortran, big_endian=array.dtype.byteorder == ">",
                    version=list(version or (1, 0)))

    def save_raw(self, name, header, data, expected):
        """A header NumPy would not write but does read: the reader must too."""
        header = header + " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
        path = os.path.join(self.folder, name)
        with open(path, "wb") as f:
            f.write(MAGIC + b"\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + data)
        loaded = np.load(path)
        assert loaded.dtype.name == expected.dtype.name and np.array_equal(loaded, expected), name
        self.record(name, loaded.astype(loaded.dtype.newbyteorder("=")), hand_written=True)

    def write(self):
        with open(os.path.join(self.folder, "manifest.json"), "w") as f:
            json.dump(self.manifest, f, indent=1, sort_keys=True)
            f.write("\n")


def npy_bytes(array):
    f = io.BytesIO()
    np.lib.format.write_array(f, array, allow_pickle=False)
    return f.getvalue()


def plain_npys(fx):
    for code in NAMES:
        orders = ["|"] if code in ("b1", "u1", "i1") else ["<", ">"]
        for order in orders:
            base = values(code, (2, 3)).astype(np.dtype(order + code))
            tag = {"<": "le", ">": "be", "|": "na"}[order]
            fx.save(f"{code}_{tag}_c.npy", base)
            fx.save(f"{code}_{tag}_f.npy", np.asfortranarray(base))
    # Three dims in Fortran order, where the transposition is not just a 2-D transpose.
    fx.save("f4_le_f_3d.npy", np.asfortranarray(values("f4", (2, 3, 4))))
    fx.save("i2_be_f_3d.npy", np.asfortranarray(values("i2", (2, 3, 4)).astype(">i2")))
    fx.save("i8_le_f_4d.npy", np.asfortranarray(values("i8", (2, 1, 3, 2))))
    # Versions 2.0 and 3.0 (4-byte header length; 3.0 declares a UTF-8 header).
    fx.save("f4_v2.npy", values("f4", (3, 2)), version=(2, 0))
    fx.save("i4_v3.npy", values("i4", (4,)), version=(3, 0))
    fx.save("f8_be_f_v3.npy", np.asfortranarray(values("f8", (2, 2)).astype(">f8")), version=(3, 0))
    # 0-d arrays, shape ().
    fx.save("f8_0d.npy", np.array(2.5, dtype="<f8"))
    fx.save("b1_0d.npy", np.array(True))
    fx.save("i2_be_0d.npy", np.array(-300, dtype=">i2"))
    # Empty dims.
    fx.save("f4_empty.npy", np.zeros((0,), dtype="<f4"))
    fx.save("i4_empty_3d.npy", np.zeros((2, 0, 3), dtype="<i4"))
    fx.save("u1_1d.npy", values("u1", (5,)))


def hand_written_npys(fx):
    data = values("i4", (3,))
    fx.save_raw("i4_native_order.npy", "{'descr': '=i4', 'fortran_order': False, 'shape': (3,), }",
                data.astype("=i4").tobytes(), data)
    data = values("i2", (2, 2))
    fx.save_raw("i2_keys_reordered.npy", "{ 'shape' :(2,2),\t'fortran_order':False , 'descr':\"<i2\"}",
                data.astype("<i2").tobytes(), data)
    data = values("f4", (3,))
    fx.save_raw("f4_py2_long.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3L,), }",
                data.astype("<f4").tobytes(), data)


def archives(fx):
    members = {
        "query": values("f4", (2, 3, 4)),
        "key": values("i8", (3,)),
        "mask": values("b1", (2, 2)),
        "scalar": np.array(-1.5, dtype="<f8"),
        "fortran_be": np.asfortranarray(values("i2", (3, 2)).astype(">i2")),
        "empty": np.zeros((0, 4), dtype="<f2"),
    }
    for name, save in (("stored.npz", np.savez), ("compressed.npz", np.savez_compressed)):
        save(os.path.join(fx.folder, name), **members)
        loaded = np.load(os.path.join(fx.folder, name))
        fx.manifest["archives"][name] = sorted(loaded.files)
        for member in loaded.files:
            array = loaded[member]
            fx.record(name, array.astype(array.dtype.newbyteorder("=")), member=member)


def zip_with(path, entries, method=zipfile.ZIP_STORED):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name we want
        with zipfile.ZipFile(path, "w", compression=method) as z:
            for name, data in entries:
                info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
                info.compress_type = method
                z.writestr(info, data)


def lying_zip(path, entry, payload, declared_size):
    """One deflated entry whose zip headers claim `declared_size` uncompressed bytes."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    compressed = deflater.compress(payload) + deflater.flush()
    crc = zlib.crc32(payload[:declared_size])
    name = entry.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(compressed), declared_size,
                        len(name), 0) + name
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(compressed),
                          declared_size, len(name), 0, 0, 0, 0, 0, 0) + name
    body = local + compressed
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(body), 0)
    with open(path, "wb") as f:
        f.write(body + central + end)


def hostile_archives(fx):
    good = npy_bytes(values("f8", (10,)))
    zip_with(os.path.join(fx.folder, "bad_duplicate.npz"), [("a.npy", good), ("a.npy", good)])
    zip_with(os.path.join(fx.folder, "bad_duplicate_suffix.npz"), [("a.npy", good), ("a", good)])
    zip_with(os.path.join(fx.folder, "bad_traversal.npz"), [("ok.npy", good), ("sub/../../evil.npy", good)])
    zip_with(os.path.join(fx.folder, "bad_absolute.npz"), [("/etc/evil.npy", good)])
    zip_with(os.path.join(fx.folder, "bad_bzip2.npz"), [("x.npy", good)], zipfile.ZIP_BZIP2)
    # Bombs: a header for 10 float64 (80 bytes) in front of 1 MiB of zeros, deflated to ~1 KiB.
    header_only = npy_bytes(values("f8", (10,)))[:128]
    bomb = header_only + bytes(1 << 20)
    zip_with(os.path.join(fx.folder, "bomb_declared.npz"), [("x.npy", bomb)], zipfile.ZIP_DEFLATED)
    lying_zip(os.path.join(fx.folder, "bomb_lying.npz"), "x.npy", bomb, 128 + 80)
    # A header claiming 10^12 elements in front of nothing: the limit refuses it unread.
    huge = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"
    huge += b" " * ((64 - (10 + len(huge) + 1) % 64) % 64) + b"\n"
    zip_with(os.path.join(fx.folder, "bomb_shape.npz"),
             [("x.npy", MAGIC + b"\x01\x00" + struct.pack("<H", len(huge)) + huge)], zipfile.ZIP_DEFLATED)
    with open(os.path.join(fx.folder, "not_a_zip.npz"), "wb") as f:
        f.write(b"this is not a zip archive\n")


def generate():
    # np.savez stamps entries with the current local time: pin both for reproducible bytes.
    os.environ["TZ"] = "UTC"
    time.tzset()
    time.time = lambda: 1704067200.0  # 2024-01-01
    for name in os.listdir(HERE):
        if name.endswith((".npy", ".npz")) or name == "manifest.json":
            os.remove(os.path.join(HERE, name))
    fx = Fixtures(HERE)
    plain_npys(fx)
    hand_written_npys(fx)
    archives(fx)
    hostile_archives(fx)
    fx.write()
    total = sum(os.path.getsize(os.path.join(HERE, n)) for n in os.listdir(HERE))
    print(f"{len(fx.manifest['arrays'])} arrays, {total} bytes in {HERE}")


def verify(folder):
    with open(os.path.join(folder, "expected.json")) as f:
        expected = json.load(f)
    failures = 0
    for entry in expected:
        path = os.path.join(folder, entry["file"])
        if "member" in entry:
            with np.load(path) as archive:
                assert entry["member"] in archive.files, (path, archive.files)
                array = archive[entry["member"]]
            where = f"{entry['file']}[{entry['member']}]"
        else:
            array = np.load(path)
            where = entry["file"]
        ok = (array.dtype.name == entry["dtype"] and list(array.shape) == entry["shape"] and
              np.array_equal(np.ravel(array).astype(np.float64), np.array(entry["values"], dtype=np.float64)))
        if not ok:
            failures += 1
            print(f"MISMATCH {where}: numpy reads {array.dtype} {array.shape}, expected {entry['dtype']} {entry['shape']}")
    print(f"{len(expected) - failures} of {len(expected)} arrays read back by NumPy {np.__version__} as written")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--verify":
        sys.exit(verify(sys.argv[2]))
    if len(sys.argv) != 1:
        sys.exit(__doc__)
    generate()
