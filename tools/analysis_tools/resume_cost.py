"""What resuming and iteration checkpoints cost on a training config.

    python tools/analysis_tools/resume_cost.py CONFIG [--fractions 0 0.25 0.5 0.75 1]
        [--interval N] [--iters N] [--cfg-options k=v ...] [--out FILE.json]

Prints, for a checkpoint at each fraction of an epoch, the seconds to the resumed run's first
batch by sampler state (mimlab's loops) and by replaying the batches before it (mmengine's
iteration loop); then the median wall time of a training iteration without and with a
checkpoint save (every ``--interval`` iterations, ``--iters`` in all) beside the save's own time.
See mimlab/experiments/resume_cost.py.
"""
import argparse
import tempfile

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from mimlab.experiments.cli import save_result
from mimlab.experiments.resume_cost import checkpoint_stall, time_to_first_batch


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--fractions', type=float, nargs='+', default=[0, 0.25, 0.5, 0.75, 1])
    parser.add_argument('--interval', type=int, default=10)
    parser.add_argument('--iters', type=int, default=60)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--out', help='also write the figures to this JSON file')
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mimlab'))
    rows = time_to_first_batch(cfg, args.fractions)
    print('resume at      batch  by sampler state  by replay')
    for row in rows:
        print(f'{row["fraction"]:8.0%} {row["batch"]:10d} {row["skip_s"]:14.3f} s '
              f'{row["replay_s"]:9.3f} s')
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=args.iters)
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)
    cfg.param_scheduler = []
    with tempfile.TemporaryDirectory() as work_dir:
        stall = checkpoint_stall(cfg, args.interval, work_dir)
    print(f'iteration: {stall["step_s"] * 1000:.1f} ms; with a checkpoint save '
          f'({stall["checkpoint_mb"]:.1f} MB, every {args.interval}): '
          f'{stall["step_with_save_s"] * 1000:.1f} ms; the save alone: '
          f'{stall["save_alone_s"] * 1000:.1f} ms')
    result = dict(resume=rows, checkpoint=stall)
    if args.out:
        save_result(args.out, result)
    return result


if __name__ == '__main__':
    main()
