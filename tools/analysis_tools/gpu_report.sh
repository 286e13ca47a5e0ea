#!/usr/bin/env bash
# The GPU report (docs/performance.md, "GPU report"): install the carried wheels, then measure.
#
#   tools/analysis_tools/gpu_report.sh [gpu_report.py options]      # on the GPU machine
#   tools/analysis_tools/gpu_report.sh --device cpu --tiny --out-dir DIR   # the CPU check
#
# The wheels (tools/install/build_gpu_wheels.sh, `make gpu-wheels`) come from $GPU_WHEELS
# (default .cache/gpu_wheels) and are unpacked into $GPU_SITE (default .cache/gpu_site), which
# goes first on PYTHONPATH: the machine's own packages are left as they are. Nothing is
# installed when mmengine, mmcv and mmpretrain import already (GPU_REPORT_INSTALL=always: still).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-python3}
WHEELS=${GPU_WHEELS:-.cache/gpu_wheels}
SITE=$(mkdir -p "${GPU_SITE:-.cache/gpu_site}" && cd "${GPU_SITE:-.cache/gpu_site}" && pwd)
export PYTHONPATH="$PWD:$SITE${PYTHONPATH:+:$PYTHONPATH}"
if [ "${GPU_REPORT_INSTALL:-}" = always ] || ! "$PY" -c "import mmengine, mmcv, mmpretrain" 2>/dev/null; then
  ls "$WHEELS"/*.whl >/dev/null 2>&1 || {
    echo "no wheels in $WHEELS: build them with tools/install/build_gpu_wheels.sh" >&2; exit 1; }
  start=$(date +%s)
  if "$PY" -m pip --version >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --disable-pip-version-check --target "$SITE" \
      "$WHEELS"/*.whl
  else  # no pip: a pure-Python wheel is a zip of the files that go into site-packages
    "$PY" -c "import sys, zipfile; [zipfile.ZipFile(w).extractall(sys.argv[1]) for w in sys.argv[2:]]" \
      "$SITE" "$WHEELS"/*.whl
  fi
  echo "[gpu_report] installed $(ls "$WHEELS"/*.whl | wc -l) wheels into $SITE in $(( $(date +%s) - start )) s"
fi
"$PY" -c "import mmengine, mmcv, mmpretrain, mimlab; print('[gpu_report] mmengine', mmengine.__version__, '| mmcv', mmcv.__version__, '| mmpretrain', mmpretrain.__version__)"
exec "$PY" tools/analysis_tools/gpu_report.py "$@"
