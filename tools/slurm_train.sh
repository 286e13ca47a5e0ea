#!/usr/bin/env bash
# Training under Slurm: tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py args]
# GPUS (total, default 8), GPUS_PER_NODE (default 8), CPUS_PER_TASK (default 5) and SRUN_ARGS
# come from the environment.
set -euo pipefail
PARTITION=${1:?usage: slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [args]}
JOB_NAME=${2:?}
CONFIG=${3:?}
WORK_DIR=${4:-work_dirs/$(basename "${CONFIG%.py}")}
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-}
cd "$(dirname "$0")/.."
PYTHONPATH="$PWD:${PYTHONPATH:-}" exec srun -p "$PARTITION" --job-name="$JOB_NAME" \
  --gres=gpu:"$GPUS_PER_NODE" --ntasks="$GPUS" --ntasks-per-node="$GPUS_PER_NODE" \
  --cpus-per-task="$CPUS_PER_TASK" --kill-on-bad-exit=1 $SRUN_ARGS \
  python -u tools/train.py "$CONFIG" --work-dir="$WORK_DIR" --launcher slurm "${@:5}"
