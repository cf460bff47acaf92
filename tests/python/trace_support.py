"""Shared by the Python tests: the mhacheck binary ($MHACHECK, set by ctest), checking and
replaying traced specs, and finding lines in source files."""
import os
import subprocess
import tempfile
import unittest

import numpy as np

import mhacheck

BINARY = os.environ["MHACHECK"]
# torch.testing.assert_close's defaults for float32
ABSOLUTE_TOLERANCE, RELATIVE_TOLERANCE = 1e-5, 1.3e-6


def check(spec):
    return mhacheck.check(spec, binary=BINARY)


def by_severity(report, *severities):
    return [d for d in report["diagnostics"] if d["severity"] in severities]


def line_number(path, marker):
    """The 1-based line of `path` holding the comment `#: marker` (exactly one)."""
    marker = "#: " + marker
    with open(path, encoding="utf-8") as source:
        found = [i + 1 for i, line in enumerate(source) if marker in line]
    assert len(found) == 1, f"{marker!r} is on lines {found} of {path}"
    return found[0]


def line_with(path, text):
    """The 1-based line of `path` (a library's source) holding `text` (exactly once)."""
    with open(path, encoding="utf-8") as source:
        found = [i + 1 for i, line in enumerate(source) if text in line]
    assert len(found) == 1, f"{text!r} is on lines {found} of {path}"
    return found[0]


def source_line(diagnostic):
    """(absolute file, line, text of that line) where a diagnostic is located."""
    location = diagnostic["location"]
    path = os.path.abspath(location["file"])
    with open(path, encoding="utf-8") as source:
        text = source.read().splitlines()[location["line"] - 1]
    return path, location["line"], text


def replay(test, spec):
    """Saves a values=True spec, runs `mhacheck run SPEC --save`, and requires every traced output
    to be reproduced within torch.testing's float32 tolerances taken normwise: the largest
    difference at most 1e-5 + 1.3e-6 * the tensor's largest magnitude. A sum rounds relative to
    its terms, not to its result: Swin v2's cosine scores (near 0 as often as near 1) times a
    logit scale of 10 differ by 1.7e-5 where the float32 inputs two blocks up differ by 5e-7.
    Returns the largest difference."""
    with tempfile.TemporaryDirectory(prefix="mhacheck-replay-") as folder:
        path = spec.save(os.path.join(folder, "model.json"))
        out = os.path.join(folder, "out.npz")
        done = subprocess.run([BINARY, "run", path, "--save", out], capture_output=True, text=True, check=False)
        test.assertEqual(done.returncode, 0, done.stdout[-2000:] + done.stderr)
        expected = np.load(os.path.join(folder, "model.expected.npz"))
        replayed = np.load(out)
        test.assertTrue(expected.files)
        test.assertEqual(set(expected.files) - set(replayed.files), set())
        worst = 0.0
        for key in expected.files:
            test.assertEqual(expected[key].shape, replayed[key].shape, key)
            test.assertEqual(expected[key].dtype, replayed[key].dtype, key)
            want, got = expected[key].astype(np.float64), replayed[key].astype(np.float64)
            finite = np.isfinite(want)
            # -inf (masked scores) and NaN must be where PyTorch has them; the rest within 1e-5.
            test.assertTrue(np.array_equal(want[~finite], got[~finite], equal_nan=True), key)
            difference = float(np.max(np.abs(want[finite] - got[finite]), initial=0.0))
            scale = float(np.max(np.abs(want[finite]), initial=0.0))
            test.assertLessEqual(difference, ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * scale, key)
            worst = max(worst, difference)
        return worst


def module_calls(spec, module_type):
    return [c for c in spec.calls if "module" in c and spec.document["modules"][c["module"]]["type"] == module_type]


def main():
    unittest.main(verbosity=2)
