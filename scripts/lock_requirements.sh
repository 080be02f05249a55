#!/usr/bin/env bash
# Compile every hand-edited requirements .in file into its hashed lock (.txt) with pip-tools:
#   requirements-dev.in      -> requirements-dev.txt      (make venv: the dev/CI environment)
#   requirements-checkov.in  -> requirements-checkov.txt  (make tools: checkov's own environment)
#   requirements-deploy.in   -> requirements-deploy.txt   (the pipeline's deploy jobs)
#   lambdas/*/*/requirements.in -> requirements.txt        (each Lambda image, installed by its Dockerfile)
# Every lock pins every package with the sha256 of every file PyPI serves for that version, so it installs
# with --require-hashes on Python 3.11 linux (x86_64 here and in CI; x86_64 or arm64 in a Lambda image).
#
# Reproducible: pip-tools at a fixed version, run on Python 3.11, against PyPI only (the machine's pip
# configuration, local indexes and find-links are ignored), with no index URL written into the locks.
#
# usage: scripts/lock_requirements.sh [--upgrade] [FILE.in ...]   (default: every .in file)
set -euo pipefail

PIP_TOOLS_VERSION=7.7.0
PYTHON="${PYTHON:-python3.11}"
repo_root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo_root"

upgrade=()
files=()
for arg in "$@"; do
  case "$arg" in
    --upgrade) upgrade=(--upgrade) ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) files+=("$arg") ;;
  esac
done
if [ "${#files[@]}" -eq 0 ]; then
  files=(requirements-dev.in requirements-checkov.in requirements-deploy.in)
  while IFS= read -r found; do files+=("$found"); done < <(find lambdas -name requirements.in | sort)
fi

command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || { echo "the locks are compiled on Python 3.11 (the images' and CI's); set PYTHON=" >&2; exit 1; }

# PyPI only: ignore pip.conf, PIP_* variables, local indexes and find-links of this machine.
unset PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_INDEX_URL PIP_CONSTRAINT
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
tools="${TMPDIR:-/tmp}/pip-tools-$PIP_TOOLS_VERSION"
if [ ! -x "$tools/bin/pip-compile" ]; then
  "$PYTHON" -m venv "$tools"
  "$tools/bin/pip" install --quiet --index-url https://pypi.org/simple "pip-tools==$PIP_TOOLS_VERSION"
fi

export CUSTOM_COMPILE_COMMAND="scripts/lock_requirements.sh"
for source in "${files[@]}"; do
  lock="${source%.in}.txt"
  echo "locking $source -> $lock"
  "$tools/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras \
    --no-emit-index-url --no-emit-trusted-host --no-emit-find-links \
    --index-url https://pypi.org/simple "${upgrade[@]}" \
    --output-file "$lock" "$source"
done
