#!/usr/bin/env bash
# Build the wheels that tools/analysis_tools/gpu_report.sh installs on a GPU machine that has
# no package registry (Python 3.12, torch, torchvision, timm, numpy, opencv, pillow, pyyaml,
# matplotlib, scikit-image, einops; no mmengine, mmcv or mmpretrain). All are pure-Python
# wheels (about 3 MB in all), written to ${1:-.cache/gpu_wheels} (git ignores .cache/), which
# travels to the machine with the working tree (the device tool's `carry`).
#   mmengine 0.10.7 and the packages its import needs beyond that image;
#   mmcv 2.1.0 built from its sdist with MMCV_WITH_OPS=0: no compiled ops (pretraining needs
#     none), so it builds in seconds and runs on any torch;
#   mmpretrain 1.2.0 (the peer) and what its `import mmpretrain.models` needs beyond that;
#   tensorboard and protobuf for the runs' TensorBoard events.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-.cache/gpu_wheels}
PY=${PY:-.venv/bin/python}
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# pure-Python wheels only, so that they install on the GPU machine's Python 3.12
"$PY" -m pip download -q --no-deps --only-binary :all: -d "$OUT" \
  mmengine==0.10.7 addict yapf platformdirs termcolor rich markdown-it-py mdurl pygments \
  mmpretrain==1.2.0 mat4py modelindex model-index ordered-set importlib-metadata zipp markdown \
  click lazy-importer
# the TensorBoard writer of default_runtime.py's vis_backends (torch.utils.tensorboard imports
# tensorboard and protobuf only): the pure-Python builds of protobuf
"$PY" -m pip download -q --no-deps --only-binary :all: --platform any --python-version 3.12 \
  --implementation py -d "$OUT" tensorboard protobuf absl-py
if ! ls "$OUT"/mmcv-2.1.0-*.whl >/dev/null 2>&1 && ! ls "$OUT"/mmcv_lite-2.1.0-*.whl >/dev/null 2>&1; then
  # mmcv's setup.py imports pkg_resources: an older setuptools for this build only. The
  # download prepares the metadata without MMCV_WITH_OPS=0 (which renames it mmcv-lite).
  "$PY" -m pip install -q --no-deps --target "$work/buildtools" 'setuptools<70' wheel
  PYTHONPATH="$work/buildtools" "$PY" -m pip download -q --no-deps --no-binary :all: \
    --no-build-isolation mmcv==2.1.0 -d "$work"
  tar -xzf "$work"/mmcv-2.1.0.tar.gz -C "$work"
  (cd "$work/mmcv-2.1.0" && PYTHONPATH="$work/buildtools" MMCV_WITH_OPS=0 \
    "$PY" -m pip wheel -q --no-build-isolation --no-deps . -w "$work/dist")
  cp "$work"/dist/mmcv*.whl "$OUT/"
fi
if ls "$OUT"/*.whl | grep -v -- '-none-any.whl$'; then
  echo "the wheels above are not pure Python: they would not install on the GPU machine" >&2
  exit 1
fi
du -sh "$OUT"
