#!/usr/bin/env bash
# Build mmcv 2.1.0 with its compiled ops against the torch in the given python's environment,
# once per machine: the wheel is cached under $MIMLAB_CACHE (default ~/.cache/mimlab), keyed by
# the mmcv, torch and Python versions. Prints the wheel's path on the last line.
#
# Why a build: PyPI has only the sdist for mmcv 2.1.0, and torch 2.14's headers need C++20
# while mmcv's setup.py hard-codes -std=c++14/17 (see shared STACK.md).
set -euo pipefail
PY=${1:?usage: build_mmcv.sh PYTHON}
PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")"  # absolute, without resolving the venv link
MMCV_VERSION=${MMCV_VERSION:-2.1.0}
CACHE=${MIMLAB_CACHE:-$HOME/.cache/mimlab}
key=$("$PY" -c "import sys, torch; print(f'torch{torch.__version__.split(\"+\")[0]}-cp{sys.version_info[0]}{sys.version_info[1]}')")
out="$CACHE/wheels/mmcv-$MMCV_VERSION-$key"
whl=$(ls "$out"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
if [ -n "$whl" ]; then
  echo "$whl"
  exit 0
fi
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "building mmcv $MMCV_VERSION with ops for $key (about 15 minutes on 2 cores, once per machine)" >&2
# An older setuptools for this build only (torch itself requires a newer one in the venv).
"$PY" -m pip install --no-deps --target "$work/buildtools" 'setuptools<70' >&2
# pip prepares the sdist's metadata on download, which already runs its setup.py.
PYTHONPATH="$work/buildtools" "$PY" -m pip download --no-deps --no-binary :all: \
  --no-build-isolation "mmcv==$MMCV_VERSION" -d "$work" >&2
tar -xzf "$work"/mmcv-"$MMCV_VERSION".tar.gz -C "$work"
src="$work/mmcv-$MMCV_VERSION"
sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$src/setup.py"
grep -q -- '-std=c++20' "$src/setup.py" || { echo "could not patch the C++ standard in mmcv's setup.py" >&2; exit 1; }
(cd "$src" && PATH="$(dirname "$PY"):$PATH" PYTHONPATH="$work/buildtools" \
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
  "$PY" -m pip wheel --no-build-isolation --no-deps . -w "$work/dist" >&2)
# Move into place last, so that an interrupted build leaves no half-written wheel in the cache.
built=$(ls "$work"/dist/mmcv-*.whl)
cp "$built" "$out/.partial.whl"
mv "$out/.partial.whl" "$out/$(basename "$built")"
echo "$out/$(basename "$built")"
