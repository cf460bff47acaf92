#!/bin/sh
# mhacheck as a git pre-commit hook: checks the staged attention specs (*.json) and refuses the
# commit when mhacheck reports an error (exit 1) or an unusable spec (exit 2).
#
#   cp pre-commit-hook.sh .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit
#
# It checks the staged content (what gets committed), not unstaged edits.
# MHACHECK names the binary (default: mhacheck on PATH). MHACHECK_PATHSPEC narrows the files
# (default '*.json', every JSON file in the repository), e.g. MHACHECK_PATHSPEC='specs/*.json'.
# Skip it once with git commit --no-verify.
set -u

mhacheck=${MHACHECK:-mhacheck}
pathspec=${MHACHECK_PATHSPEC:-*.json}

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# Added, copied and modified specs, NUL-separated (any file name works).
git diff --cached --name-only --diff-filter=ACM -z -- "$pathspec" > "$tmp/files" || exit 1
[ -s "$tmp/files" ] || exit 0

case $mhacheck in
  */*) mhacheck=$(cd "$(dirname "$mhacheck")" && pwd)/$(basename "$mhacheck") ;;
esac
if ! command -v "$mhacheck" >/dev/null 2>&1; then
  echo "pre-commit: $mhacheck not found; install it or set MHACHECK (or commit with --no-verify)" >&2
  exit 1
fi

# What gets committed is the staged content. When no staged spec has unstaged changes, that is
# the working tree: check the files in place, where tensor files they name ({"file": ...},
# relative to the spec) are found. Otherwise check copies of the staged versions, at the same
# paths under $tmp/index so that reports name the real paths.
if ! xargs -0 git diff --quiet -- < "$tmp/files"; then
  mkdir "$tmp/index" && git checkout-index -z --stdin --prefix="$tmp/index/" < "$tmp/files" || exit 1
  cd "$tmp/index" || exit 1
  echo "pre-commit: checking the staged versions of specs with unstaged changes" >&2
fi

if ! xargs -0 "$mhacheck" check -- < "$tmp/files"; then
  echo "pre-commit: mhacheck found problems in the staged specs; fix them, or commit with --no-verify" >&2
  exit 1
fi
