"""mhacheck.check: run the mhacheck binary on a spec and return its JSON report."""
import json
import os
import shutil
import subprocess
import tempfile

from ._spec import Spec

_REPOSITORY_BUILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "build", "mhacheck")


def find_binary(binary=None):
    """`binary`, else $MHACHECK, else `mhacheck` on PATH, else the repository's build/mhacheck.
    A binary named by the argument or the variable must exist: no other one is tried then."""
    named = binary or os.environ.get("MHACHECK")
    candidates = [named] if named else [shutil.which("mhacheck"), os.path.normpath(_REPOSITORY_BUILD)]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    if named:
        raise FileNotFoundError(f"{named} is not an executable file")
    raise FileNotFoundError("no mhacheck binary: pass binary=, set $MHACHECK, put mhacheck on PATH "
                            "or build the repository (cmake --build build)")


def run_binary(command, spec_or_path, *, binary=None, args=()):
    """Runs `mhacheck COMMAND SPEC --format json ARGS`; returns (exit code, parsed stdout)."""
    executable = find_binary(binary)
    with tempfile.TemporaryDirectory(prefix="mhacheck-") as folder:
        if isinstance(spec_or_path, Spec):
            path = spec_or_path.save(os.path.join(folder, "spec.json"))
        else:
            path = os.fspath(spec_or_path)
        done = subprocess.run([executable, command, path, "--format", "json", *args],
                              capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1, 2) or not done.stdout.strip():
        raise RuntimeError(f"mhacheck {command} exited with {done.returncode}: {done.stderr.strip()}")
    return done.returncode, json.loads(done.stdout)


def check(spec_or_path, *, binary=None, args=()):
    """Checks a Spec (saved to a temporary folder first) or a spec file with the mhacheck binary
    (`mhacheck check --format json`) and returns the report as a dict."""
    return run_binary("check", spec_or_path, binary=binary, args=args)[1]
