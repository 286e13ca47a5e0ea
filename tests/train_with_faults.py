"""``tools/train.py`` with a fault: the process SIGKILLs itself where ``MIMLAB_FAULT`` says.

- ``iter:N``: right after training iteration N (counted from the start of the run, as logged).
- ``save:NAME``: inside the atomic write of the file NAME (a checkpoint such as
  ``epoch_2.pth``, or ``last_checkpoint``), after its temporary file is written and before it
  is renamed.
- ``truncate:NAME``: when a plain ``open(NAME, 'w')`` has emptied the file and before anything
  is written (mmengine writes the ``last_checkpoint`` pointer that way).
- ``signal:NAME@N``: the process sends itself the signal NAME (e.g. SIGTERM) as training
  iteration N begins, in the process of rank ``MIMLAB_FAULT_RANK`` only when that is set.
- ``signal-in-save:NAME``: the process sends itself SIGTERM inside the atomic write of the file
  NAME (as ``save:NAME`` kills it), and the write goes on.
- ``slow:SECONDS``: sleep that long after every training iteration (so that a signal sent from
  outside lands in the middle of the run).

Several faults: separated by commas.

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


def _each_iteration(action, before: bool = False) -> None:
    """Call ``action(iteration)`` after every training iteration of either mmengine loop (with
    ``before``: as it begins), iterations counted from 1."""
    from mmengine.runner.loops import EpochBasedTrainLoop, IterBasedTrainLoop
    for loop in (EpochBasedTrainLoop, IterBasedTrainLoop):
        def wrapped(self, *args, _run_iter=loop.run_iter):
            if before:
                action(self.iter + 1)
            _run_iter(self, *args)
            if not before:
                action(self.iter)

        loop.run_iter = wrapped


def _inject(fault: str) -> None:
    kind, _, where = fault.partition(':')
    if kind == 'iter':
        _each_iteration(lambda iteration: iteration == int(where) and _die())
    elif kind == 'signal':
        name, _, after = where.partition('@')
        rank = os.environ.get('MIMLAB_FAULT_RANK')
        if rank is None or rank == os.environ.get('RANK', '0'):
            _each_iteration(lambda iteration: iteration == int(after) and os.kill(
                os.getpid(), signal.Signals[name]), before=True)
    elif kind == 'slow':
        import time
        _each_iteration(lambda iteration: time.sleep(float(where)))
    elif kind in ('save', 'signal-in-save'):
        fsync = os.fsync

        def fsync_or_die(fd):
            # atomic_write fsyncs the temporary file '.NAME.xxxx.tmp' before renaming it
            if osp.basename(os.readlink(f'/proc/self/fd/{fd}')).startswith(f'.{where}.'):
                if kind == 'save':
                    _die()
                os.kill(os.getpid(), signal.SIGTERM)
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
        raise SystemExit(f'MIMLAB_FAULT={fault!r}: expected iter:N, save:NAME, truncate:NAME, '
                         'signal:NAME@N or slow:SECONDS')


if __name__ == '__main__':
    for fault in filter(None, os.environ.get('MIMLAB_FAULT', '').split(',')):
        _inject(fault)
    train = osp.join(REPO, 'tools', 'train.py')
    sys.argv = [train, *sys.argv[1:]]
    runpy.run_path(train, run_name='__main__')
