#!/usr/bin/env bash
# Install everything into .venv (called by `make install`; Make re-runs it only when the
# requirements or setup.py change). Each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
pip_install() { "$PY" -m pip install --disable-pip-version-check -q "$@"; }

if [ ! -x "$PY" ]; then
  echo "[install] creating $VENV"
  python3 -m venv "$VENV"
fi
echo "[install] torch stack (requirements/torch.txt; about 5.8 GB the first time)"
pip_install -r requirements/torch.txt -r requirements/build.txt
if ! "$PY" -c "import mmcv, mmcv.ops" 2>/dev/null || \
   [ "$("$PY" -c 'import mmcv; print(mmcv.__version__)')" != "2.1.0" ]; then
  wheel=$(tools/install/build_mmcv.sh "$PY" | tail -n 1)
  echo "[install] mmcv with ops from $wheel"
  pip_install --no-deps --force-reinstall "$wheel"
fi
echo "[install] runtime, downstream, analysis and test requirements, and mimlab itself (editable)"
pip_install -r requirements/runtime.txt -r requirements/downstream.txt -r requirements/analysis.txt \
  -r requirements/tests.txt
pip_install --no-deps --no-build-isolation -e .
echo "[install] benchmark peer and photos (requirements/benchmark.txt, without their own pins)"
pip_install --no-deps -r requirements/benchmark.txt
"$PY" -c "import mimlab, mmcv.ops, mmdet, mmseg, timm; print('[install] ok: mimlab', mimlab.__version__, '| mmcv', mmcv.__version__, '| torch', __import__('torch').__version__)"
