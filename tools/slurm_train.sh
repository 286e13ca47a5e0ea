#!/usr/bin/env bash
# Training under Slurm: tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py args]
# GPUS (total, default 8), GPUS_PER_NODE (default 8), CPUS_PER_TASK (default 5), SRUN_ARGS and
# SIGNAL (default USR1@90) come from the environment.
#
# Preemption-safe: outside an allocation the script submits itself as a batch job with
# `sbatch --requeue --signal=$SIGNAL` (output in WORK_DIR/slurm-JOBID.out). Slurm sends SIGUSR1
# to every task 90 s before the time limit; training then saves a checkpoint at the iteration it
# is on, requeues the job (`scontrol requeue`) and stops (mimlab's PreemptionHook), and every
# start runs train.py with --resume, so the requeued job goes on where it stopped. Inside an
# allocation (your own sbatch script, salloc) it runs srun directly. REQUEUE=0: an interactive
# srun job, as before (it cannot be requeued).
set -euo pipefail
PARTITION=${1:?usage: slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [args]}
JOB_NAME=${2:?}
CONFIG=${3:?}
WORK_DIR=${4:-work_dirs/$(basename "${CONFIG%.py}")}
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-}
SIGNAL=${SIGNAL:-USR1@90}
cd "$(dirname "$0")/.."
if [[ -z "${SLURM_JOB_ID:-}" && "${REQUEUE:-1}" != 0 ]]; then
  mkdir -p "$WORK_DIR"
  NODES=$(( (GPUS + GPUS_PER_NODE - 1) / GPUS_PER_NODE ))
  exec sbatch -p "$PARTITION" --job-name="$JOB_NAME" --requeue --signal="$SIGNAL" \
    --nodes="$NODES" --ntasks="$GPUS" --ntasks-per-node="$GPUS_PER_NODE" \
    --gres=gpu:"$GPUS_PER_NODE" --cpus-per-task="$CPUS_PER_TASK" --open-mode=append \
    --output="$WORK_DIR/slurm-%j.out" \
    --wrap="$(printf '%q ' "$PWD/tools/slurm_train.sh" "$PARTITION" "$JOB_NAME" "$CONFIG" \
              "$WORK_DIR" "${@:5}")"
fi
# --resume first: a later --resume CKPT among the arguments wins
PYTHONPATH="$PWD:${PYTHONPATH:-}" exec srun -p "$PARTITION" --job-name="$JOB_NAME" \
  --gres=gpu:"$GPUS_PER_NODE" --ntasks="$GPUS" --ntasks-per-node="$GPUS_PER_NODE" \
  --cpus-per-task="$CPUS_PER_TASK" --kill-on-bad-exit=1 --signal="$SIGNAL" $SRUN_ARGS \
  python -u tools/train.py "$CONFIG" --work-dir="$WORK_DIR" --launcher slurm --resume "${@:5}"
