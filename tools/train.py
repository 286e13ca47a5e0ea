"""Train a mimlab config: ``python tools/train.py CONFIG [options]``.

Argument parsing only; the run is :mod:`mimlab.apis.train`.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.dist import get_rank

from mimlab.apis.train import summary, train, training_config
from mimlab.engine.checkpoint import allow_unsafe_load
from mimlab.engine.config_checks import exit_after_process_group, leave_process_group
from mimlab.engine.errors import one_line_errors
from mimlab.engine.hooks import Preempted
from mimlab.engine.interrupt import ctrl_c_stops, interrupt_pending
from mimlab.engine.resume import interrupted, resume_command


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model with a mimlab config')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs, checkpoints and pictures go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--data-root', help="the data folder of the config's dataloaders "
                        '(train, val and test; e.g. an ImageNet-style folder with train/ and val/)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CKPT, or with no value from the last checkpoint in the '
                        'work dir (the newest epoch_N.pth when last_checkpoint is broken; starting '
                        'afresh if there is none)')
    parser.add_argument('--amp', nargs='?', const='fp16', choices=['fp16', 'bf16'],
                        help='automatic mixed precision: fp16 (the default; dynamic loss '
                        'scaling, GPU only) or bf16 (autocast without a scaler, GPU or CPU)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help="scale the lr by the actual total batch / the config's "
                        'auto_scale_lr.base_batch_size')
    parser.add_argument('--detect-anomaly', action='store_true',
                        help="autograd anomaly detection: a backward that produces NaN fails "
                        'at once with the forward operation that caused it (slow; for debugging)')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='load checkpoints with torch.load(weights_only=False): lets the file '
                        'run code when unpickled; only for checkpoints from a source you trust')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_cfg.max_epochs=10 '
                        'train_dataloader.dataset.data_root=/data/my_images')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher (dist_train.sh sets pytorch)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise SystemExit(f'config file {args.config} does not exist')
    allow_unsafe_load(args.unsafe_load)
    cfg = Config.fromfile(args.config)
    try:
        with ctrl_c_stops(), one_line_errors(cfg):
            cfg = training_config(cfg, work_dir=args.work_dir, resume=args.resume, amp=args.amp,
                                  auto_scale_lr=args.auto_scale_lr, launcher=args.launcher,
                                  cfg_options=args.cfg_options, data_root=args.data_root)
            runner = train(cfg, detect_anomaly=args.detect_anomaly)
    except Preempted as stop:
        # a clean stop (exit status 0): the run goes on with --resume
        if get_rank() == 0:
            print(f'\n{stop}.\nResume with: {resume_command(argv)}', flush=True)
        raise SystemExit(0)
    except BaseException as err:
        # Ctrl-C: one line saying how to go on, not a traceback; also when code the interrupt
        # passed through turned it into another error
        if not (isinstance(err, KeyboardInterrupt) or interrupt_pending()):
            raise
        if get_rank() == 0:
            print('\n' + interrupted(cfg.get('work_dir'), argv), file=sys.stderr, flush=True)
        raise SystemExit(130)
    if runner.rank == 0:
        print('\n' + summary(runner, cfg.work_dir), flush=True)
    leave_process_group()


if __name__ == '__main__':
    main()
    exit_after_process_group()
