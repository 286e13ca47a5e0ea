"""``tools/train.py`` with a fault: the process SIGKILLs itself where ``MIMLAB_FAULT`` says.

- ``iter:N``: right after training iteration N (counted from the start of the run, as logged).
- ``save:NAME``: inside the atomic write of the file NAME (a checkpoint such as
  ``epoch_2.pth``, or ``last_checkpoint``), after its temporary file is written and before it
  is renamed.
- ``truncate:NAME``: when a plain ``open(NAME, 'w')`` has emptied the file and before anything
  is written (mmengine writes the ``last_checkpoint`` pointer that way).

A test helper, run as a script by tests/test_resume.py.
"""
import os
import os.path as osp
import runpy
import signal
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _inject(fault: str) -> None:
    kind, _, where = fault.partition(':')
    if kind == 'iter':
        from mmengine.runner.loops import EpochBasedTrainLoop
        run_iter = EpochBasedTrainLoop.run_iter

        def run_iter_then_die(self, idx, data_batch):
            run_iter(self, idx, data_batch)
            if self.iter == int(where):
                _die()

        EpochBasedTrainLoop.run_iter = run_iter_then_die
    elif kind == 'save':
        fsync = os.fsync

        def fsync_or_die(fd):
            # atomic_write fsyncs the temporary file '.NAME.xxxx.tmp' before renaming it
            if osp.basename(os.readlink(f'/proc/self/fd/{fd}')).startswith(f'.{where}.'):
                _die()
            fsync(fd)

        os.fsync = fsync_or_die
    elif kind == 'truncate':
        import builtins
        real_open = builtins.open

        def open_or_die(file, mode='r', *args, **kwargs):
            f = real_open(file, mode, *args, **kwargs)
            if 'w' in mode and osp.basename(str(file)) == where:
                _die()
            return f

        builtins.open = open_or_die
    else:
        raise SystemExit(f'MIMLAB_FAULT={fault!r}: expected iter:N, save:NAME or truncate:NAME')


if __name__ == '__main__':
    if os.environ.get('MIMLAB_FAULT'):
        _inject(os.environ['MIMLAB_FAULT'])
    train = osp.join(REPO, 'tools', 'train.py')
    sys.argv = [train, *sys.argv[1:]]
    runpy.run_path(train, run_name='__main__')
