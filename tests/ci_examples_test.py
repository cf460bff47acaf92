"""Tests the CI examples of docs/ci.md (examples/ci/) against the built mhacheck.

- The YAML files parse (a small parser for the block-style subset they use; cross-checked with
  PyYAML when it happens to be installed, which the test does not need) and have the structure
  GitHub Actions, GitLab CI and pre-commit expect (upload-sarif with if: always() on the file
  that -o writes, artifacts kept when the job fails, ...).
- Every step and script that runs `mhacheck check` is run as written (sh -e, mhacheck on PATH)
  in a temporary workspace whose specs/ holds copies of examples/*.json, in three cases: specs
  with errors (exit 1), specs without errors (exit 0), and an unusable spec (exit 2). The files
  the commands write with -o must exist and be valid (SARIF 2.1.0, the JSON report).
- The git pre-commit hook runs in temporary git repositories: a staged broken spec refuses the
  commit, a good one passes, and the staged content (not unstaged edits) is what counts.
- The pre-commit framework (Debian's pre-commit) runs the local hook of examples/ci/ and the
  repository's own .pre-commit-hooks.yaml, taken from a hooks repository, in temporary git
  repositories.
- The composite GitHub Action (action.yml) runs step by step as GitHub runs it (bash -e, its
  `if:` conditions, GITHUB_PATH, GITHUB_OUTPUT), in a temporary git repository, with the build and
  apt commands recorded by stand-ins (the stand-in build puts the built mhacheck in the build dir).
- docs/ci.md shows each example file verbatim, and its report samples (text, json, sarif, github)
  are what the commands it shows print.
Usage: ci_examples_test.py MHACHECK SOURCE_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from script_tests import finish, test

mhacheck, source_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
examples = os.path.join(source_dir, "examples")
ci_dir = os.path.join(examples, "ci")


# --- a small YAML reader: block mappings and sequences, | block scalars, [a, b] flow lists,
# plain and quoted scalars (all kept as strings), comments. Anything else is an error.

class YamlError(Exception):
    pass


def strip_comment(text):
    quote = None
    for i, c in enumerate(text):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"" and (i == 0 or text[i - 1] in " :[,-"):
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] == " "):
            return text[:i].rstrip()
    return text.rstrip()


def scalar(text, where):
    text = text.strip()
    if text.startswith("'"):
        if not text.endswith("'") or len(text) < 2:
            raise YamlError(f"{where}: unterminated quote")
        return text[1:-1].replace("''", "'")
    if text.startswith('"'):
        if not text.endswith('"') or len(text) < 2:
            raise YamlError(f"{where}: unterminated quote")
        return json.loads(text)
    if text.startswith("["):
        if not text.endswith("]"):
            raise YamlError(f"{where}: unterminated flow list")
        inner = text[1:-1].strip()
        return [scalar(item, where) for item in inner.split(",")] if inner else []
    if text[:1] in "{&*!%@`" or text.startswith(("- ", "? ")):
        raise YamlError(f"{where}: unsupported YAML: {text}")
    return text


KEY = re.compile(r"^([A-Za-z0-9_.$/-]+):(?: +(.*))?$")


def parse_yaml(path):
    raw = open(path, encoding="utf-8").read().split("\n")
    lines = []  # (indent, text, line number, raw line)
    for number, line in enumerate(raw, 1):
        if "\t" in line[: len(line) - len(line.lstrip())]:
            raise YamlError(f"{path}:{number}: tab in indentation")
        lines.append((len(line) - len(line.lstrip(" ")), line.strip(), number, line))

    def significant(i):
        while i < len(lines) and (not lines[i][1] or lines[i][1].startswith("#")):
            i += 1
        return i

    def block_scalar(i, parent_indent):
        body, indent = [], None
        while i < len(lines):
            ind, text, _, line = lines[i]
            if text and ind <= parent_indent:
                break
            if text and indent is None:
                indent = ind
            body.append(line[indent:] if text else "")
            i += 1
        while body and not body[-1]:
            body.pop()
        return "\n".join(body) + "\n", i

    def value(rest, i, indent, where):
        if rest in ("|", "|-"):
            text, i = block_scalar(i, indent)
            return (text[:-1] if rest == "|-" else text), i
        rest = strip_comment(rest)
        if rest:
            return scalar(rest, where), i
        j = significant(i)
        if j < len(lines) and (lines[j][0] > indent or (lines[j][0] == indent and lines[j][1].startswith("- "))):
            return node(j, lines[j][0])
        return None, i

    def node(i, indent, first=None):
        # first: the text of a sequence item's first line, which opens a mapping at `indent`
        i = significant(i)
        text = first if first is not None else lines[i][1]
        if first is None and (text == "-" or text.startswith("- ")):
            items = []
            while i < len(lines) and lines[i][0] == indent and (lines[i][1] == "-" or lines[i][1].startswith("- ")):
                where = f"{path}:{lines[i][2]}"
                rest = lines[i][1][2:].strip()
                if KEY.match(strip_comment(rest)):
                    item, i = node(i, indent + 2, first=rest)
                else:
                    item, i = value(rest, i + 1, indent, where)
                items.append(item)
                i = significant(i)
            if i < len(lines) and lines[i][0] > indent:
                raise YamlError(f"{path}:{lines[i][2]}: unexpected indentation")
            return items, i
        mapping = {}
        while i < len(lines):
            if first is None:
                ind, text, number, _ = lines[i]
                if ind != indent:
                    if ind > indent:
                        raise YamlError(f"{path}:{number}: unexpected indentation")
                    break
            else:
                text, number = first, lines[i][2]
                first = None
            match = KEY.match(strip_comment(text))
            if not match:
                raise YamlError(f"{path}:{number}: expected 'key: value', found {text!r}")
            key = match.group(1)
            if key in mapping:
                raise YamlError(f"{path}:{number}: duplicate key {key!r}")
            mapping[key], i = value(match.group(2) or "", i + 1, indent, f"{path}:{number}")
            i = significant(i)
        return mapping, i

    start = significant(0)
    document, end = node(start, lines[start][0])
    if significant(end) != len(lines):
        raise YamlError(f"{path}:{lines[significant(end)][2]}: unexpected text")
    return document


def plain(value):
    """PyYAML's document in the reader's terms: scalars as strings (YAML 1.1 reads `on` as True)."""
    if isinstance(value, dict):
        return {("on" if key is True else str(key)): plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


def load(name, directory=ci_dir):
    path = os.path.join(directory, name)
    document = parse_yaml(path)
    try:
        import yaml  # optional cross-check
    except ImportError:
        return document
    expected = plain(yaml.safe_load(open(path, encoding="utf-8")))
    assert document == expected, f"{name}: the test's YAML reader and PyYAML disagree"
    return document


# --- workspaces: a stand-in for the repository the CI runs in, specs/ holding copies of examples

GOOD = ["seed_example3.json", "seed_example3_named.json", "run_example.json"]  # exit 0 (notes, warnings)
BAD = ["seed_example1.json", "seed_example2.json"]  # exit 1 (errors)
CASES = {"errors": 1, "clean": 0, "unusable": 2}


def workspace(case):
    root = tempfile.mkdtemp(prefix=f"mhacheck-ci-{case}-")
    specs = os.path.join(root, "specs")
    nested = os.path.join(specs, "nested")  # directories are searched recursively
    os.makedirs(nested)
    shutil.copytree(os.path.join(examples, "run"), os.path.join(specs, "run"))  # run_example.json's tensors
    for name in GOOD[:2]:
        shutil.copy(os.path.join(examples, name), nested)
    shutil.copy(os.path.join(examples, "run_example.json"), specs)
    if case == "errors":
        for name in BAD:
            shutil.copy(os.path.join(examples, name), specs)
    if case == "unusable":
        with open(os.path.join(specs, "truncated.json"), "w") as f:
            f.write('{"module": "nn.MultiheadAttention(512, 8)", "query": [32, 1,')
    return root


def environment(**extra):
    env = dict(os.environ, PATH=os.path.dirname(mhacheck) + os.pathsep + os.environ.get("PATH", ""), NO_COLOR="1")
    env.update(extra)
    return env


def run_script(script, cwd):
    assert os.path.basename(mhacheck) == "mhacheck", "the commands call mhacheck by name"
    return subprocess.run(["sh", "-e", "-c", script], cwd=cwd, env=environment(), capture_output=True, text=True)


def mhacheck_commands(script):
    return [m.group(0).strip() for m in re.finditer(r"\bmhacheck check\b[^;|&\n]*", script)]


def output_files(script):
    return {m.group(2): m.group(1) for m in re.finditer(r"--format (\w+) -o (\S+)", script)}


def check_output(path, fmt, case):
    assert os.path.isfile(path), f"{path} was not written"
    text = open(path, encoding="utf-8").read()
    document = json.loads(text)
    if fmt == "sarif":
        assert document["version"] == "2.1.0", document.get("version")
        assert "sarif-schema-2.1.0" in document["$schema"]
        results = document["runs"][0]["results"]
        levels = {r["level"] for r in results}
        rules = {r["ruleId"] for r in results}
        assert ("error" in levels) == (case != "clean"), (case, levels)
        if case == "unusable":
            assert "MHA001" in rules, rules
        for r in results:
            uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            assert uri.startswith("specs/"), f"{uri} is not relative to the repository root"
    elif fmt == "json":
        assert document["schema_version"] == 1
        assert document["ok"] == (case == "clean"), (case, document["ok"])
    else:
        raise AssertionError(f"unexpected -o format {fmt}")


# --- GitHub Actions

def github_structure():
    workflow = load("github-workflow.yml")
    assert "on" in workflow and "jobs" in workflow
    scanning = workflow["jobs"]["code-scanning"]
    assert scanning["permissions"]["security-events"] == "write"
    steps = scanning["steps"]
    check = [s for s in steps if "mhacheck check" in s.get("run", "")]
    assert len(check) == 1, check
    assert "mhacheck check --format sarif -o mhacheck.sarif specs/" in check[0]["run"]
    upload = [s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif@")]
    assert len(upload) == 1 and steps.index(upload[0]) > steps.index(check[0])
    assert "always()" in upload[0]["if"], upload[0].get("if")
    assert output_files(check[0]["run"]) == {upload[0]["with"]["sarif_file"]: "sarif"}, "upload-sarif uploads the -o file"
    annotate = workflow["jobs"]["annotate"]
    assert "pull_request" in annotate["if"]
    assert any("mhacheck check --format github specs/" in s.get("run", "") for s in annotate["steps"])
    for job in workflow["jobs"].values():
        build = [s for s in job["steps"] if "cmake --build" in s.get("run", "")]
        assert build and "GITHUB_PATH" in build[0]["run"], "each job builds mhacheck and puts it on PATH"


def github_steps(case):
    workflow = load("github-workflow.yml")
    for job_name, job in workflow["jobs"].items():
        for step in job["steps"]:
            script = step.get("run", "")
            if "mhacheck check" not in script:
                continue
            root = workspace(case)
            try:
                result = run_script(script, root)  # GitHub runs `run:` with bash -e
                assert result.returncode == CASES[case], (job_name, case, result.returncode, result.stderr)
                for path, fmt in output_files(script).items():
                    check_output(os.path.join(root, path), fmt, case)
                if "--format github" in script:
                    lines = result.stdout.splitlines()
                    commands = [line for line in lines if line.startswith("::")]
                    assert commands and all(re.match(r"::(error|warning|notice) file=specs/", c) for c in commands), lines[:3]
                    assert any(c.startswith("::error ") for c in commands) == (case != "clean")
            finally:
                shutil.rmtree(root)


# --- GitLab CI

def gitlab_structure():
    pipeline = load("gitlab-ci.yml")
    job = pipeline["mhacheck"]
    assert job["image"] == "debian:12"
    script = "\n".join(job["script"])
    assert mhacheck_commands(script), "no mhacheck command in the script"
    assert job["artifacts"]["when"] == "always"
    assert set(output_files(script)) <= set(job["artifacts"]["paths"]), "every -o file is kept as an artifact"
    assert any("export PATH=" in line for line in job["before_script"])


def gitlab_script(case):
    job = load("gitlab-ci.yml")["mhacheck"]
    script = "\n".join(job["script"])  # the runner stops at the first failing line, like sh -e
    root = workspace(case)
    try:
        result = run_script(script, root)
        assert result.returncode == CASES[case], (case, result.returncode, result.stderr)
        for path, fmt in output_files(script).items():
            check_output(os.path.join(root, path), fmt, case)
        if case != "unusable":
            assert ("FAIL:" in result.stdout) == (case == "errors"), "the text report is in the job log"
    finally:
        shutil.rmtree(root)


# --- git pre-commit hook

def git(repo, *args, check=True, env=None):
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env or environment())
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {result.stderr}")
    return result


def hook_repo():
    repo = tempfile.mkdtemp(prefix="mhacheck-hook-")
    git(repo, "init", "-q")
    git(repo, "config", "user.name", "mhacheck test")
    git(repo, "config", "user.email", "mhacheck-test@example.invalid")
    git(repo, "config", "commit.gpgsign", "false")
    hooks = os.path.join(repo, ".git", "hooks")
    os.makedirs(hooks, exist_ok=True)
    shutil.copy(os.path.join(ci_dir, "pre-commit-hook.sh"), os.path.join(hooks, "pre-commit"))
    os.chmod(os.path.join(hooks, "pre-commit"), 0o755)
    os.makedirs(os.path.join(repo, "specs"))
    return repo


def put(repo, path, example):
    target = os.path.join(repo, path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy(os.path.join(examples, example), target)


def commit(repo, message):
    return git(repo, "commit", "-q", "-m", message, check=False)


def hook_cases():
    repo = hook_repo()
    try:
        assert "--diff-filter=ACM" in open(os.path.join(ci_dir, "pre-commit-hook.sh")).read()
        # A broken spec and a good one staged: refused, nothing committed.
        put(repo, "specs/broken.json", "seed_example1.json")
        put(repo, "specs/good.json", "seed_example3.json")
        git(repo, "add", "specs/broken.json", "specs/good.json")
        result = commit(repo, "both")
        assert result.returncode != 0, "a staged broken spec must refuse the commit"
        assert "MHA040" in result.stdout + result.stderr, "the report is shown"
        assert git(repo, "rev-parse", "--verify", "-q", "HEAD", check=False).returncode != 0
        # Only the good one staged (the broken one is still in the working tree): committed.
        git(repo, "rm", "-q", "--cached", "specs/broken.json")
        result = commit(repo, "good")
        assert result.returncode == 0, result.stdout + result.stderr
        # An unusable spec (exit 2) is refused too.
        with open(os.path.join(repo, "specs", "bad syntax.json"), "w") as f:
            f.write("{")
        git(repo, "add", "specs/bad syntax.json")
        assert commit(repo, "unusable").returncode != 0
        git(repo, "rm", "-q", "--cached", "specs/bad syntax.json")
        os.remove(os.path.join(repo, "specs", "bad syntax.json"))
        # The staged content counts, not unstaged edits: a good staged version passes although
        # the working tree is broken ...
        put(repo, "specs/later.json", "seed_example3_named.json")
        git(repo, "add", "specs/later.json")
        put(repo, "specs/later.json", "seed_example2.json")
        result = commit(repo, "staged good, working tree broken")
        assert result.returncode == 0, result.stdout + result.stderr
        # ... and a broken staged version is refused although the working tree is fixed.
        git(repo, "add", "specs/later.json")
        put(repo, "specs/later.json", "seed_example3.json")
        result = commit(repo, "staged broken, working tree good")
        assert result.returncode != 0, "the staged (broken) version must be checked"
        assert "specs/later.json" in result.stdout + result.stderr, "reports name the real path"
        git(repo, "add", "specs/later.json")
        assert commit(repo, "fixed").returncode == 0
        # A spec reading tensors from files next to it, and a file name with a space.
        os.remove(os.path.join(repo, "specs", "broken.json"))  # untracked all along
        put(repo, "specs/run_example.json", "run_example.json")
        shutil.copytree(os.path.join(examples, "run"), os.path.join(repo, "specs", "run"))
        put(repo, "specs/with space.json", "seed_example3.json")
        git(repo, "add", "specs")
        result = commit(repo, "run spec")
        assert result.returncode == 0, result.stdout + result.stderr
        # Commits without JSON files do not need mhacheck at all.
        with open(os.path.join(repo, "README"), "w") as f:
            f.write("specs\n")
        git(repo, "add", "README")
        no_mhacheck = environment(PATH="/usr/bin:/bin")
        assert git(repo, "commit", "-q", "-m", "readme", check=False, env=no_mhacheck).returncode == 0
    finally:
        shutil.rmtree(repo)


def hook_pathspec():
    repo = hook_repo()
    try:
        # MHACHECK_PATHSPEC narrows the files: other JSON (package.json, ...) is not a spec.
        with open(os.path.join(repo, "package.json"), "w") as f:
            f.write('{"name": "x"}\n')
        put(repo, "specs/good.json", "seed_example3.json")
        git(repo, "add", "package.json", "specs/good.json")
        assert commit(repo, "default pathspec").returncode != 0, "package.json is not a spec"
        env = environment(MHACHECK_PATHSPEC="specs/*.json")
        assert git(repo, "commit", "-q", "-m", "specs only", check=False, env=env).returncode == 0
        # MHACHECK names the binary, here by a relative path.
        put(repo, "specs/broken.json", "seed_example1.json")
        git(repo, "add", "specs/broken.json")
        relative = os.path.relpath(mhacheck, repo)
        env = environment(PATH="/usr/bin:/bin", MHACHECK=relative)
        result = git(repo, "commit", "-q", "-m", "broken", check=False, env=env)
        assert result.returncode != 0 and "MHA040" in result.stdout + result.stderr, result.stdout + result.stderr
    finally:
        shutil.rmtree(repo)


# --- the pre-commit framework

def framework_files():
    hooks = load(".pre-commit-hooks.yaml", source_dir)
    assert isinstance(hooks, list) and hooks[0]["id"] == "mhacheck" and hooks[0]["language"] == "system"
    assert hooks[0]["entry"] == "mhacheck check" and hooks[0]["types"] == ["json"]
    local = load(".pre-commit-config.yaml")["repos"][0]
    assert local["repo"] == "local" and local["hooks"][0]["language"] == "system"


def precommit(repo, *args):
    env = environment(PRE_COMMIT_HOME=os.path.join(repo, ".git", "pre-commit-cache"))
    return subprocess.run(["pre-commit", *args], cwd=repo, env=env, capture_output=True, text=True)


def framework_commits(config):
    """Commits under pre-commit with `config` as .pre-commit-config.yaml: specs/ is checked."""
    repo = hook_repo()
    os.remove(os.path.join(repo, ".git", "hooks", "pre-commit"))
    try:
        with open(os.path.join(repo, ".pre-commit-config.yaml"), "w") as f:
            f.write(config)
        git(repo, "add", ".pre-commit-config.yaml")
        installed = precommit(repo, "install")
        assert installed.returncode == 0, installed.stdout + installed.stderr
        env = environment(PRE_COMMIT_HOME=os.path.join(repo, ".git", "pre-commit-cache"))
        put(repo, "specs/broken.json", "seed_example1.json")
        put(repo, "specs/good.json", "seed_example3.json")
        git(repo, "add", "specs")
        result = git(repo, "commit", "-q", "-m", "both", check=False, env=env)
        assert result.returncode != 0 and "MHA040" in result.stdout + result.stderr, result.stdout + result.stderr
        git(repo, "rm", "-q", "--cached", "specs/broken.json")
        result = git(repo, "commit", "-q", "-m", "good", check=False, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        # JSON outside specs/ is not a spec: files: narrows the hook.
        with open(os.path.join(repo, "package.json"), "w") as f:
            f.write('{"name": "x"}\n')
        git(repo, "add", "package.json")
        result = git(repo, "commit", "-q", "-m", "package.json", check=False, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        shutil.rmtree(repo)


def framework_local_hook():
    framework_commits(open(os.path.join(ci_dir, ".pre-commit-config.yaml"), encoding="utf-8").read())


def framework_hooks_repository():
    # The repository's own .pre-commit-hooks.yaml, offered by a hooks repository (a stand-in for
    # a clone of mhacheck) and named by URL and rev, as users do.
    hooks = tempfile.mkdtemp(prefix="mhacheck-hooks-repo-")
    try:
        git(hooks, "init", "-q")
        shutil.copy(os.path.join(source_dir, ".pre-commit-hooks.yaml"), hooks)
        git(hooks, "add", ".pre-commit-hooks.yaml")
        git(hooks, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false",
            "commit", "-q", "-m", "hooks")
        rev = git(hooks, "rev-parse", "HEAD").stdout.strip()
        framework_commits(f"repos:\n  - repo: {hooks}\n    rev: {rev}\n    hooks:\n      - id: mhacheck\n"
                          "        files: ^specs/\n")
    finally:
        shutil.rmtree(hooks)


# --- the composite GitHub Action, action.yml at the repository root

def action_structure():
    action = load("action.yml", source_dir)
    assert {"specs", "format", "args"} <= set(action["inputs"]), action["inputs"]
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    for step in steps:
        if "run" in step:
            assert step["shell"] == "bash", "composite run steps need a shell"
            assert "${{" not in step["run"], "inputs reach scripts through env:, never pasted into them"
    upload = [s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif@")]
    assert len(upload) == 1 and "always()" in upload[0]["if"] and "inputs.upload-sarif == 'true'" in upload[0]["if"]
    assert upload[0]["with"]["sarif_file"] == "${{ steps.check.outputs.report }}"
    # The build dependencies are among the README's (Debian 12) packages.
    readme = open(os.path.join(source_dir, "README.md"), encoding="utf-8").read()
    readme_packages = set(readme.split("<!-- run-command -->")[1].split("apt-get install -y --no-install-recommends")[1].split("&&")[0].split())
    install = [s for s in steps if "apt-get install -y --no-install-recommends" in s.get("run", "")]
    packages = install[0]["run"].split("--no-install-recommends")[1].split()
    assert {"g++", "cmake", "libcli11-dev", "libopenblas-dev", "libzip-dev"} <= set(packages) <= readme_packages, packages


def github_condition(expression, inputs):
    """GitHub's `if:` for the forms action.yml uses: always() and inputs.X ==/!= 'literal', &&."""
    result = True
    for term in (t.strip() for t in expression.split("&&")):
        if term == "always()":
            continue
        match = re.fullmatch(r"inputs\.([\w-]+) (==|!=) '([^']*)'", term)
        assert match, f"the test does not evaluate {term!r}"
        result &= (inputs[match.group(1)] == match.group(3)) == (match.group(2) == "==")
    return result


STAND_IN = """#!/bin/sh
# Stand-in for %s: records its arguments; a build (cmake --build DIR) or a package install
# (apt-get install X.deb) puts the tested mhacheck where the real one would be.
echo "%s $*" >> "$STAND_IN_LOG"
case "%s $*" in
  "cmake --build "*) mkdir -p "$2" && ln -sf "$STAND_IN_MHACHECK" "$2/mhacheck" ;;
  "apt-get install "*.deb) ln -sf "$STAND_IN_MHACHECK" "$STAND_IN_SYSTEM/mhacheck" ;;
  "sudo "*) exec "$@" ;;
esac
"""


def run_action(case, inputs):
    """Runs action.yml's steps as GitHub would; returns (check step's exit code, commands, uploads, root)."""
    action = load("action.yml", source_dir)
    values = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    values.update(inputs)
    root = workspace(case)
    git(root, "init", "-q")
    runner = tempfile.mkdtemp(prefix="mhacheck-runner-")
    stand_ins, system = os.path.join(runner, "stand-ins"), os.path.join(runner, "system")
    os.makedirs(stand_ins)
    os.makedirs(system)
    for tool in ["sudo", "apt-get", "cmake"]:
        with open(os.path.join(stand_ins, tool), "w") as f:
            f.write(STAND_IN % (tool, tool, tool))
        os.chmod(os.path.join(stand_ins, tool), 0o755)
    files = {name: os.path.join(runner, name) for name in ["GITHUB_PATH", "GITHUB_OUTPUT", "log"]}
    for path in files.values():
        open(path, "w").close()
    outputs, status, failed_step, uploads = {}, None, False, []
    for step in action["runs"]["steps"]:
        condition = step.get("if", "success()")
        if (failed_step and "always()" not in condition) or (condition != "success()" and not github_condition(condition, values)):
            continue
        if "uses" in step:
            uploads.append({k: re.sub(r"\$\{\{ steps\.check\.outputs\.(\w+) \}\}", lambda m: outputs.get(m.group(1), ""), v)
                            for k, v in step["with"].items()})
            continue
        added = [line for line in open(files["GITHUB_PATH"]).read().splitlines() if line]
        env = dict(os.environ, PATH=os.pathsep.join([*reversed(added), stand_ins, system, "/usr/bin", "/bin"]),
                   GITHUB_ACTION_PATH=source_dir, RUNNER_TEMP=runner, GITHUB_PATH=files["GITHUB_PATH"],
                   GITHUB_OUTPUT=files["GITHUB_OUTPUT"], STAND_IN_LOG=files["log"], STAND_IN_MHACHECK=mhacheck,
                   STAND_IN_SYSTEM=system, NO_COLOR="1")
        for name, value in step.get("env", {}).items():
            env[name] = re.sub(r"\$\{\{ inputs\.([\w-]+) \}\}", lambda m: values[m.group(1)], value)
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                                cwd=root, env=env, capture_output=True, text=True)
        if step.get("id") == "check":
            status = result
            outputs = dict(line.split("=", 1) for line in open(files["GITHUB_OUTPUT"]).read().splitlines())
        failed_step = failed_step or result.returncode != 0
    commands = open(files["log"]).read().splitlines()
    shutil.rmtree(runner)
    return status, commands, uploads, root


def action_runs():
    build = ["sudo apt-get update", "apt-get update"]
    # SARIF uploaded although the check fails; built from the action's own sources.
    status, commands, uploads, root = run_action("errors", {"format": "sarif", "upload-sarif": "true"})
    try:
        assert status.returncode == 1, (status.returncode, status.stderr)
        assert commands[:2] == build and any(c.startswith("apt-get install -y --no-install-recommends g++") for c in commands)
        assert any(c.startswith(f"cmake -S {source_dir} -B ") for c in commands), commands
        assert len(uploads) == 1 and uploads[0]["sarif_file"] == "mhacheck.sarif", uploads
        check_output(os.path.join(root, "mhacheck.sarif"), "sarif", "errors")
    finally:
        shutil.rmtree(root)
    # The defaults: annotations in the log, nothing uploaded.
    status, _, uploads, root = run_action("clean", {})
    shutil.rmtree(root)
    assert status.returncode == 0 and uploads == [], (status.returncode, uploads)
    commands = [line for line in status.stdout.splitlines() if line.startswith("::")]
    assert commands and all(re.match(r"::(warning|notice) file=specs/", c) for c in commands), commands[:3]
    # A .deb instead of a build; several specs, a glob and extra arguments (--werror fails on the
    # warnings of the clean specs).
    status, commands, _, root = run_action("clean", {"deb": "mhacheck.deb", "args": "--werror --color never",
                                                     "specs": "specs/nested/*.json specs/run_example.json", "format": "text"})
    shutil.rmtree(root)
    assert not any(c.startswith("cmake") for c in commands), commands
    assert any(re.fullmatch(r"apt-get install -y /\S+/mhacheck\.deb", c) for c in commands), commands
    assert status.returncode == 1 and "in 3 specs" in status.stdout, (status.returncode, status.stdout[-200:])
    # An unusable spec, the JSON report to a file named by `output`.
    status, _, uploads, root = run_action("unusable", {"format": "json", "output": "report.json"})
    try:
        assert status.returncode == 2 and uploads == [], (status.returncode, status.stderr)
        check_output(os.path.join(root, "report.json"), "json", "unusable")
    finally:
        shutil.rmtree(root)


# --- the documentation shows the files as they are

def docs_show_files():
    docs = open(os.path.join(source_dir, "docs", "ci.md"), encoding="utf-8").read()
    for name in ["github-workflow.yml", "gitlab-ci.yml", "pre-commit-hook.sh", ".pre-commit-config.yaml"]:
        text = open(os.path.join(ci_dir, name), encoding="utf-8").read()
        assert text in docs, f"docs/ci.md does not show examples/ci/{name} as it is"
    for name in [".pre-commit-hooks.yaml", "action.yml"]:
        text = open(os.path.join(source_dir, name), encoding="utf-8").read()
        assert text in docs, f"docs/ci.md does not show {name} as it is"


# --- the report samples of docs/ci.md are real runs, as its "Report formats" says

def sample(docs, heading):
    """The first fenced block after the heading ### `heading`, and the prose before it."""
    section = docs.split(f"### `{heading}`", 1)[1]
    prose, rest = section.split("```", 1)
    return prose, rest.split("\n", 1)[1].split("\n```\n", 1)[0] + "\n"


def report_of(root, arguments, status, output=None):
    result = subprocess.run([mhacheck, *arguments], cwd=root, env=environment(), capture_output=True, text=True)
    assert result.returncode == status, f"mhacheck {' '.join(arguments)}: exit {result.returncode}\n{result.stderr}"
    return open(os.path.join(root, output), encoding="utf-8").read() if output else result.stdout


def docs_report_samples():
    docs = open(os.path.join(source_dir, "docs", "ci.md"), encoding="utf-8").read()
    root = tempfile.mkdtemp(prefix="mhacheck-ci-samples-")
    try:
        # "in a folder holding specs/seed_example1.json and specs/nested/seed_example3_named.json"
        os.makedirs(os.path.join(root, "specs", "nested"))
        shutil.copy(os.path.join(examples, "seed_example1.json"), os.path.join(root, "specs"))
        shutil.copy(os.path.join(examples, "seed_example3_named.json"), os.path.join(root, "specs", "nested"))
        assert sample(docs, "text")[1] == report_of(root, ["check", "specs/"], 1), "docs/ci.md: the text sample is stale"
        assert sample(docs, "github")[1] == report_of(root, ["check", "--format", "github", "specs/"], 1), \
            "docs/ci.md: the github sample is stale"
        # The SARIF sample keeps only the rules its results use; the prose says from how many.
        prose, sarif = sample(docs, "sarif")
        real = json.loads(report_of(root, ["check", "--format", "sarif", "-o", "mhacheck.sarif", "specs/seed_example1.json"], 1,
                                    "mhacheck.sarif"))
        driver = real["runs"][0]["tool"]["driver"]
        assert f"to the one rule used, from {len(driver['rules'])}:" in prose, "docs/ci.md: the SARIF sample's rule count is stale"
        used = {result["ruleId"] for result in real["runs"][0]["results"]}
        driver["rules"] = [rule for rule in driver["rules"] if rule["id"] in used]
        assert sarif == json.dumps(real, indent=2, ensure_ascii=False) + "\n", "docs/ci.md: the SARIF sample is stale"
        # "with only specs/seed_example3.json"
        shutil.rmtree(os.path.join(root, "specs"))
        os.makedirs(os.path.join(root, "specs"))
        shutil.copy(os.path.join(examples, "seed_example3.json"), os.path.join(root, "specs"))
        assert sample(docs, "json")[1] == report_of(root, ["check", "--format", "json", "-o", "report.json", "specs/"], 0, "report.json"), \
            "docs/ci.md: the json sample is stale"
    finally:
        shutil.rmtree(root)


test("github workflow: structure", github_structure)
for case in CASES:
    test(f"github workflow: steps, specs {case}", lambda case=case: github_steps(case))
test("gitlab job: structure", gitlab_structure)
for case in CASES:
    test(f"gitlab job: script, specs {case}", lambda case=case: gitlab_script(case))
test("pre-commit hook: staged specs", hook_cases)
test("pre-commit hook: MHACHECK_PATHSPEC and MHACHECK", hook_pathspec)
test("pre-commit framework: hook files", framework_files)
test("pre-commit framework: local hook (examples/ci)", framework_local_hook)
test("pre-commit framework: the repository's .pre-commit-hooks.yaml", framework_hooks_repository)
test("github action: structure", action_structure)
test("github action: runs", action_runs)
test("docs/ci.md shows the example files", docs_show_files)
test("docs/ci.md's report samples are real runs", docs_report_samples)

finish()
