"""Validates mhacheck's JSON reports against docs/report.schema.json.

Runs the binary on every example, on each diagnostic's catalogue example, on inline flags and on
unusable input, and checks each report against the schema. Needs python3-jsonschema (Debian).
Usage: validate_report_schema.py MHACHECK SOURCE_DIR
"""
import glob
import json
import os
import subprocess
import sys

import jsonschema

mhacheck, source_dir = sys.argv[1], sys.argv[2]
schema = json.load(open(os.path.join(source_dir, "docs", "report.schema.json")))
validator = jsonschema.Draft202012Validator(schema) if "2020-12" in schema.get("$schema", "") else jsonschema.Draft7Validator(schema)


def report(args, stdin=None):
    run = subprocess.run([mhacheck, "check", "--format", "json", *args], input=stdin, capture_output=True, text=True,
                         cwd=source_dir)
    assert run.returncode in (0, 1, 2), (args, run.returncode, run.stderr)
    return json.loads(run.stdout)


runs = []
examples = sorted(glob.glob(os.path.join(source_dir, "examples", "*.json")))
runs += [(os.path.basename(e), report([e])) for e in examples]
runs.append(("all examples", report(examples)))
catalogue = subprocess.run([mhacheck, "explain", "--all"], capture_output=True, text=True, check=True).stdout
for block in catalogue.split("```json\n")[1:]:
    runs.append(("catalogue example", report(["-"], stdin=block.split("\n```")[0])))
runs.append(("inline", report(["--module", "nn.MultiheadAttention(8, 2)", "--query", "(3, B, 8)", "--attn-mask", "(3, 3):float32"])))
runs.append(("missing file", report(["no/such/spec.json"])))


def run_report(args):
    run = subprocess.run([mhacheck, "run", "--format", "json", "--values", *args], capture_output=True, text=True, cwd=source_dir)
    assert run.returncode in (0, 1, 2), (args, run.returncode, run.stderr)
    return json.loads(run.stdout)


runs.append(("run example", run_report(["examples/run_example.json"])))
runs.append(("run random", run_report(["--module", "nn.MultiheadAttention(8, 2)", "--query", "(3, 2, 8)", "--random-inputs"])))
runs.append(("run failing check", run_report(["examples/seed_example1.json"])))

failures = 0
for name, document in runs:
    for error in validator.iter_errors(document):
        failures += 1
        print(f"{name}: {error.message} at {list(error.absolute_path)}")
checked = len(runs)
print(f"{checked - (1 if failures else 0)} passed, {1 if failures else 0} failed: {checked} reports validated")
sys.exit(1 if failures else 0)
