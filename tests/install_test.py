"""Tests the install paths (README "Install") against the build tree.

- `cmake --install BUILD --prefix P` puts bin/mhacheck (which checks the seed example), the man
  page share/man/man1/mhacheck.1, bash completion, the documentation and the examples under P.
- The man page renders without a groff warning and names every subcommand and every option that
  the CLI's --help lists (it is generated from that help at build time).
- The bash completion, sourced in bash as bash-completion would, completes subcommands, each
  subcommand's options, the choices of --format/--color, diagnostic codes and spec files.
- `cpack -G DEB` builds a .deb whose Depends names the runtime libraries (dpkg-shlibdeps) and
  OpenBLAS (loaded with dlopen), holding the same files under /usr. (.ci/run installs it with apt
  and runs it: installing is for CI machines, not for a test.)
Usage: install_test.py MHACHECK BUILD_DIR SOURCE_DIR
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

from script_tests import finish, test

mhacheck, build_dir, source_dir = (os.path.abspath(a) for a in sys.argv[1:4])


def run(*command, **options):
    return subprocess.run(command, capture_output=True, text=True, **options)


def help_text(*subcommand):
    result = run(mhacheck, *subcommand, "--help")
    assert result.returncode == 0, result.stderr
    return result.stdout


SUBCOMMANDS = re.findall(r"^  ([a-z][-a-z]*) ", help_text().split("Subcommands:")[1].split("\n\n")[0], re.M)


def options_of(*subcommand):
    """Every option spelling in the help's entries, e.g. {'-o', '--output', '--format', ...}."""
    names = set()
    for match in re.finditer(r"^  (-[-A-Za-z0-9,]+)", help_text(*subcommand), re.M):
        names.update(match.group(1).split(","))
    return names


prefix = tempfile.mkdtemp(prefix="mhacheck-install-")
install = run("cmake", "--install", build_dir, "--prefix", prefix)


def installed_files():
    assert install.returncode == 0, install.stdout + install.stderr
    binary = os.path.join(prefix, "bin", "mhacheck")
    assert os.access(binary, os.X_OK), "bin/mhacheck is not installed"
    result = run(binary, "check", os.path.join(source_dir, "examples", "seed_example1.json"))
    assert result.returncode == 1 and "MHA040" in result.stdout, (result.returncode, result.stdout[:300])
    assert os.path.isfile(os.path.join(prefix, "share", "man", "man1", "mhacheck.1"))
    completion = os.path.join(prefix, "share", "bash-completion", "completions", "mhacheck")
    assert open(completion).read() == open(os.path.join(source_dir, "completions", "mhacheck.bash")).read()
    doc = os.path.join(prefix, "share", "doc", "mhacheck")
    for name in ["README.md", *os.listdir(os.path.join(source_dir, "docs"))]:
        assert os.path.isfile(os.path.join(doc, name)), f"share/doc/mhacheck/{name} is not installed"
    for root, _, files in os.walk(os.path.join(source_dir, "examples")):
        for name in files:
            relative = os.path.relpath(os.path.join(root, name), source_dir)
            assert os.path.isfile(os.path.join(doc, relative)), f"share/doc/mhacheck/{relative} is not installed"


def man_page():
    page = os.path.join(prefix, "share", "man", "man1", "mhacheck.1")
    rendered = run("groff", "-man", "-Tutf8", "-ww", "-rLL=200n", page, env=dict(os.environ, GROFF_NO_SGR="1"))
    assert rendered.returncode == 0 and rendered.stderr == "", rendered.stderr
    text = re.sub(r".\x08", "", rendered.stdout)  # overstrike (bold, underline) to plain text
    assert text.lstrip().startswith("MHACHECK(1)"), text[:100]
    assert "finds and explains shape errors" in text.split("SYNOPSIS")[0], "NAME has the description"
    assert "/build" not in text and build_dir not in text, "the page names mhacheck, not the build path"
    for subcommand in SUBCOMMANDS:
        assert re.search(rf"^ +mhacheck {subcommand} \[OPTIONS\]", text, re.M), f"no section for {subcommand}"
        section = text.split(f"mhacheck {subcommand} [OPTIONS]", 1)[1]
        for option in options_of(subcommand):
            assert re.search(rf"(^|[ ,]){re.escape(option)}\b", section), f"{subcommand} {option} is not in the man page"
    assert "Exit codes: 0 no errors" in text


def completions(*words):
    """COMPREPLY for the command line `words` (the last word is the one being completed)."""
    script = (f'source "{os.path.join(prefix, "share", "bash-completion", "completions", "mhacheck")}"\n'
              'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _mhacheck; printf "%s\\n" "${COMPREPLY[@]}"\n')
    result = run("bash", "-c", script, "bash", *words, cwd=source_dir,
                 env=dict(os.environ, PATH=os.path.join(prefix, "bin") + os.pathsep + os.environ["PATH"]))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return sorted(line for line in result.stdout.splitlines() if line)


def bash_completion():
    registered = run("bash", "-c", f'source "{os.path.join(prefix, "share", "bash-completion", "completions", "mhacheck")}" && complete -p mhacheck')
    assert "-F _mhacheck mhacheck" in registered.stdout, registered.stdout + registered.stderr
    assert SUBCOMMANDS == ["check", "run", "graph", "explain"], SUBCOMMANDS
    assert completions("mhacheck", "") == sorted(SUBCOMMANDS)
    assert completions("mhacheck", "ch") == ["check"]
    assert completions("mhacheck", "--v") == ["--version"]
    for subcommand in SUBCOMMANDS:
        assert completions("mhacheck", subcommand, "-") == sorted(options_of(subcommand)), subcommand
    assert completions("mhacheck", "run", "--ra") == ["--random-inputs"]
    assert completions("mhacheck", "check", "--werror", "--format", "") == ["github", "json", "sarif", "text"]
    assert completions("mhacheck", "run", "--format", "") == ["json", "text"]
    assert completions("mhacheck", "check", "--color", "a") == ["always", "auto"]
    assert completions("mhacheck", "check", "--query", "") == [], "no completion for a shape"
    assert "MHA040" in completions("mhacheck", "explain", "MHA0")
    assert completions("mhacheck", "explain", "MHA04") == ["MHA040"]
    specs = completions("mhacheck", "check", "examples/seed_example")
    assert "examples/seed_example1.json" in specs and all(s.endswith(".json") for s in specs), specs
    assert completions("mhacheck", "check", "exam") == ["examples"], "directories are searched for specs"
    assert "README.md" in completions("mhacheck", "check", "-o", "READ"), "-o completes any file"


def sanitizer_build():
    """Whether build_dir was configured with MHACHECK_SANITIZE or MHACHECK_FUZZ."""
    with open(os.path.join(build_dir, "CMakeCache.txt"), encoding="utf-8") as cache:
        text = cache.read()
    return bool(re.search(r"^MHACHECK_(SANITIZE|FUZZ):BOOL=ON$", text, re.M))


def deb_package():
    out = tempfile.mkdtemp(prefix="mhacheck-deb-")
    try:
        result = run("cpack", "--config", os.path.join(build_dir, "CPackConfig.cmake"), "-G", "DEB", "-B", out)
        assert result.returncode == 0, result.stdout + result.stderr
        debs = [name for name in os.listdir(out) if name.endswith(".deb")]
        assert len(debs) == 1 and re.match(r"mhacheck_[0-9.]+_\w+\.deb$", debs[0]), debs
        deb = os.path.join(out, debs[0])
        depends = run("dpkg-deb", "-f", deb, "Depends").stdout
        for library in ["libopenblas0", "libc6", "libzip4"]:
            assert re.search(rf"(^|, ){re.escape(library)}\b", depends), f"Depends lacks {library}: {depends}"
        # fmt is compiled in (header-only); libstdc++ and libgcc are linked in too (a faster
        # start-up, CMakeLists.txt) except in a sanitizer build, which keeps them shared for ASan.
        # The package claims exactly what the binary needs.
        needed = run("readelf", "-d", mhacheck).stdout
        assert "libfmt" not in needed and not re.search(r"(^|, )libfmt9\b", depends), (needed, depends)
        if not sanitizer_build():
            assert "libstdc++" not in needed and "libgcc_s" not in needed, needed
        for library, soname in [("libstdc++6", "libstdc++.so"), ("libgcc-s1", "libgcc_s.so")]:
            claimed = bool(re.search(rf"(^|, ){re.escape(library)}\b", depends))
            assert claimed == (soname in needed), f"Depends {'names' if claimed else 'lacks'} {library}: {depends}; NEEDED: {needed}"
        # Loaded with dlopen when first needed (not at start-up, which they would slow down), so
        # not found by dpkg-shlibdeps: named by hand.
        assert "libzip" not in needed and "libopenblas" not in needed and "libcrypto" not in needed, needed
        for library in ["libzip4", "libopenblas0"]:
            assert re.search(rf"(^|, ){library}($|,)", depends), f"Depends lacks {library}: {depends}"
        contents = run("dpkg-deb", "-c", deb).stdout
        for path in ["./usr/bin/mhacheck", "./usr/share/man/man1/mhacheck.1",
                     "./usr/share/bash-completion/completions/mhacheck", "./usr/share/doc/mhacheck/ci.md",
                     "./usr/share/doc/mhacheck/examples/seed_example1.json"]:
            assert re.search(rf" {re.escape(path)}$", contents, re.M), f"{path} is not in the package"
        unpacked = os.path.join(out, "root")
        assert run("dpkg-deb", "-x", deb, unpacked).returncode == 0
        result = run(os.path.join(unpacked, "usr", "bin", "mhacheck"), "explain", "MHA040")
        assert result.returncode == 0 and "MHA040" in result.stdout, result.stderr
    finally:
        shutil.rmtree(out)


try:
    test("cmake --install: files", installed_files)
    test("man page: renders, every subcommand and option", man_page)
    test("bash completion", bash_completion)
    test("cpack -G DEB: Depends and contents", deb_package)
finally:
    shutil.rmtree(prefix)
finish()
