"""Time the training step of a config: forward, backward and optimizer step on one real batch.

    python tools/analysis_tools/step_time.py CONFIG [--cfg-options ...] [--iters 20] \
        [--warmup 3] [--batch-size N] [--compile [BACKEND]] [--profile ROWS] [--out step_time.json]

Reports CPU seconds per step (``time.process_time``: what the step costs, much less disturbed
than wall time when other jobs share the cores) and wall seconds per step, after ``--warmup``
untimed steps (at least one), with torch's current thread count (set ``OMP_NUM_THREADS``), and
the first step's wall time and loss. ``--compile`` compiles the model's loss with
``torch.compile`` (backend inductor unless named); the first step then includes the compile.
``--profile ROWS`` runs the timed steps once more under torch's profiler and prints its table of
the ROWS operators with the most self CPU time.
"""
import argparse

from mmengine.config import DictAction

from mimlab.apis import load_config
from mimlab.experiments.cli import print_result
from mimlab.experiments.step_time import step_time


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--batch-size', type=int, help="default: the train dataloader's")
    parser.add_argument('--compile', nargs='?', const='inductor', metavar='BACKEND',
                        help='torch.compile the loss (default backend: inductor)')
    parser.add_argument('--profile', type=int, default=0, metavar='ROWS',
                        help="print torch's profiler table of the ROWS costliest operators")
    parser.add_argument('--out', help='write the result as JSON')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    times = step_time(load_config(args.config, args.cfg_options), args.iters, args.warmup,
                      args.batch_size, args.compile, args.profile)
    table = times.pop('profile', None)
    result = dict(config=args.config, cfg_options=args.cfg_options or {}, **times)
    print_result(result, args.out)
    if table:
        print(table)
    return result


if __name__ == '__main__':
    main()
