#!/usr/bin/env bash
# Distributed evaluation through torchrun: tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args]
# (NNODES, NODE_RANK, MASTER_ADDR, PORT as for dist_train.sh)
set -euo pipefail
CONFIG=${1:?usage: dist_test.sh CONFIG CHECKPOINT GPUS [args]}
CHECKPOINT=${2:?usage: dist_test.sh CONFIG CHECKPOINT GPUS [args]}
GPUS=${3:?usage: dist_test.sh CONFIG CHECKPOINT GPUS [args]}
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
# Paths (the config, the checkpoint, --work-dir) stay relative to where the command is typed:
# the script finds the repository from its own location instead of changing into it.
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHONPATH="$ROOT:${PYTHONPATH:-}" exec python -m torch.distributed.run \
  --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
  --nproc_per_node="$GPUS" --master_port="$PORT" \
  "$ROOT/tools/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
