"""Validates mhacheck's SARIF output against the official SARIF 2.1.0 schema.

Runs `mhacheck check --format sarif` on every example, on all examples at once, on each
diagnostic's catalogue example, on inline flags and on a missing file, and checks each log against
tests/sarif-schema-2.1.0.json (a copy of the OASIS schema), with formats (uri, uri-reference)
checked too, plus what the schema cannot say: each ruleIndex names its ruleId, and every artifact
URI is a relative reference. Needs python3-jsonschema (Debian).
Usage: validate_sarif.py MHACHECK SOURCE_DIR
"""
import glob
import json
import os
import subprocess
import sys

import jsonschema

mhacheck, source_dir = sys.argv[1], sys.argv[2]
schema = json.load(open(os.path.join(source_dir, "tests", "sarif-schema-2.1.0.json")))
# The schema names its own draft; the validator follows it. FormatChecker() knows every draft's
# formats, so "uri-reference" (not a draft-04 format) is checked as well.
validator = jsonschema.validators.validator_for(schema)(schema, format_checker=jsonschema.FormatChecker())


def sarif(args, stdin=None):
    run = subprocess.run([mhacheck, "check", "--format", "sarif", *args], input=stdin, capture_output=True, text=True,
                         cwd=source_dir)
    assert run.returncode in (0, 1, 2), (args, run.returncode, run.stderr)
    return json.loads(run.stdout)


runs = []
examples = sorted(glob.glob(os.path.join(source_dir, "examples", "*.json")))
runs += [(os.path.basename(e), sarif([e])) for e in examples]
runs.append(("all examples", sarif(examples)))
catalogue = subprocess.run([mhacheck, "explain", "--all"], capture_output=True, text=True, check=True).stdout
blocks = [block.split("\n```")[0] for block in catalogue.split("```json\n")[1:]]
assert blocks, "no examples in mhacheck explain --all"
runs += [(f"catalogue example {i + 1}", sarif(["-"], stdin=block)) for i, block in enumerate(blocks)]
runs.append(("inline", sarif(["--module", "nn.MultiheadAttention(8, 2)", "--query", "(3, B, 8)", "--attn-mask", "(3, 3):float32"])))
runs.append(("missing file", sarif(["no/such/spec.json"])))


def consistency_errors(log):
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    for result in run.get("results", []):
        if rules[result["ruleIndex"]]["id"] != result["ruleId"]:
            yield f"ruleIndex {result['ruleIndex']} is not {result['ruleId']}"
        for location in result.get("locations", []) + result.get("relatedLocations", []):
            uri = location.get("physicalLocation", {}).get("artifactLocation", {}).get("uri", "")
            if uri.startswith("/") or ":" in uri or "\\" in uri:
                yield f"artifact URI {uri!r} is not a relative reference with forward slashes"


failures = 0
for name, log in runs:
    problems = [f"{error.message} at {list(error.absolute_path)}" for error in validator.iter_errors(log)]
    problems += list(consistency_errors(log))
    for problem in problems:
        print(f"{name}: {problem}")
    failures += 1 if problems else 0
results = sum(len(log["runs"][0].get("results", [])) for _, log in runs)
print(f"{len(runs) - failures} passed, {failures} failed: {len(runs)} SARIF logs ({results} results) validated")
sys.exit(1 if failures else 0)
