"""Stop on a signal without losing the run: finish the iteration, save a checkpoint there, exit.

Clusters announce a preemption or the end of a time limit with a signal some seconds before the
kill (SLURM: SIGTERM, or the signal of ``--signal=USR1@90``). :class:`PreemptionHook` catches
the configured signals during training; after the iteration under way it writes an atomic
checkpoint of that iteration (``iter_N.pth``, named by ``last_checkpoint``) and raises
:class:`Preempted`, which ``tools/train.py`` turns into a clean exit with the command that
resumes. Under several processes every rank stops after the same iteration (the flag is
all-reduced each iteration). Under SLURM, a signal in ``requeue_signals`` also requeues the
job (``scontrol requeue $SLURM_JOB_ID``) once the checkpoint is written; the requeued job
starts again with ``--resume`` (``tools/slurm_train.sh``).
"""
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import threading
from typing import Callable, List, Optional, Sequence

import torch
from mmengine import dist
from mmengine.hooks import Hook

from mimlab.registry import HOOKS, ConfigError
from ..checkpoint import atomic_write


class Preempted(RuntimeError):
    """Training stopped on a signal after saving ``checkpoint`` at ``iteration``."""

    def __init__(self, signal_name: str, iteration: int, checkpoint: str,
                 requeued: bool) -> None:
        self.signal_name, self.iteration, self.checkpoint = signal_name, iteration, checkpoint
        self.requeued = requeued
        super().__init__(f'stopped by {signal_name} after iteration {iteration}; saved '
                         f'{checkpoint}' + ('; the SLURM job is requeued' if requeued else ''))


def signal_numbers(names: Sequence[str], option: str) -> List[int]:
    """The numbers of the signals ``names`` ('SIGTERM' or 'TERM'); a name that is no signal is
    a ConfigError naming ``option``."""
    if isinstance(names, str):
        names = [names]
    numbers = []
    for name in names:
        full = name if str(name).startswith('SIG') else f'SIG{name}'
        try:
            numbers.append(signal.Signals[full].value)
        except KeyError:
            raise ConfigError(
                f'{option}: {name!r} is not a signal name; use names such as SIGTERM, SIGUSR1, '
                'SIGUSR2 (python -c "import signal; print(list(signal.Signals))")') from None
    return numbers


class _WorkerSignals:
    """A data-loader worker's init: the stop signals are ignored while training goes on (a
    cluster signals every process of a job, and a worker killed by one would crash the main
    process before it saves) and end the worker quietly once the main process is done
    (``done``, shared memory: then the worker's parent stops it with SIGTERM); then the loader's
    own init."""

    def __init__(self, signals: List[int], done, init_fn: Optional[Callable]) -> None:
        self.signals, self.done, self.init_fn = signals, done, init_fn

    def __call__(self, worker_id: int) -> None:
        for number in self.signals:
            signal.signal(number, self._on_signal)
        if self.init_fn is not None:
            self.init_fn(worker_id)

    def _on_signal(self, number: int, frame) -> None:
        if self.done.value:
            os._exit(0)


@HOOKS.register_module()
class PreemptionHook(Hook):
    """Save at the current iteration and stop when one of ``signals`` arrives (module
    docstring).

    Args:
        signals: the signal names that stop training (default SIGTERM and SIGUSR1).
        requeue_signals: those that also requeue a SLURM job (when ``SLURM_JOB_ID`` is set and
            ``scontrol`` is on the PATH). Default SIGUSR1, the signal ``tools/slurm_train.sh``
            asks for before the time limit: a SIGTERM may be ``scancel``.

    A second signal while stopping does not interrupt the save; a kill during it leaves the
    previous checkpoint as it was (atomic writes).
    """
    priority = 'LOWEST'  # after the iteration's logging and regular checkpoint

    def __init__(self, signals: Sequence[str] = ('SIGTERM', 'SIGUSR1'),
                 requeue_signals: Sequence[str] = ('SIGUSR1',)) -> None:
        self.signals = signal_numbers(signals, 'PreemptionHook signals '
                                      '(default_hooks.preemption.signals)')
        self.requeue_signals = signal_numbers(requeue_signals, 'PreemptionHook requeue_signals '
                                              '(default_hooks.preemption.requeue_signals)')
        self.received: List[int] = []
        self._previous = {}
        self._done = None

    def _on_signal(self, number: int, frame) -> None:
        self.received.append(number)
        name = signal.Signals(number).name
        # os.write: print() is not safe inside a signal handler that may interrupt a print
        if len(self.received) == 1:
            os.write(2, f'received {name}: saving a checkpoint after this iteration, then '
                     'stopping\n'.encode())
        else:
            os.write(2, f'received {name} again: still stopping after this iteration; if this '
                     'process is killed while saving, the previous checkpoint stays as it '
                     'was\n'.encode())

    def before_train(self, runner) -> None:
        if threading.current_thread() is not threading.main_thread():
            runner.logger.warning('PreemptionHook: training runs outside the main thread, '
                                  'where no signal handler can be set; signals stop it at once')
            return
        for number in self.signals:
            self._previous[number] = signal.signal(number, self._on_signal)
        loader = runner.train_loop.dataloader
        if loader.num_workers > 0:  # read when the loader starts its workers
            self._done = multiprocessing.RawValue('b', 0)
            loader.worker_init_fn = _WorkerSignals(self.signals, self._done,
                                                   loader.worker_init_fn)

    def after_train(self, runner) -> None:
        self._finish()

    def _finish(self) -> None:
        """Put back the handlers of the main process; let the workers' stop signals end them."""
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous = {}
        if self._done is not None:
            self._done.value = 1

    def _stop_requested(self, runner) -> int:
        """The number of the stop signal received by this or any other rank (the highest, when
        they differ), or 0."""
        flag = torch.tensor([self.received[0] if self.received else 0])
        if runner.world_size > 1:
            dist.all_reduce(flag, op='max')
        return int(flag.item())

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        number = self._stop_requested(runner)
        if not number:
            return
        iteration = runner.iter + 1  # this iteration is done; the loop has not counted it yet
        path = os.path.join(runner.work_dir, f'iter_{iteration}.pth')
        runner.logger.info(f'{signal.Signals(number).name}: saving {path} and stopping')
        runner.save_checkpoint(runner.work_dir, os.path.basename(path), by_epoch=False,
                               backend_args=dict(backend='atomic_local'))
        if runner.rank == 0:
            atomic_write(os.path.join(runner.work_dir, 'last_checkpoint'), path.encode())
        dist.barrier()  # every rank's part is written before anyone exits or requeues
        requeued = number in self.requeue_signals and runner.rank == 0 and \
            self._requeue(runner)
        self._finish()
        raise Preempted(signal.Signals(number).name, iteration, path, requeued)

    @staticmethod
    def _requeue(runner) -> bool:
        job = os.environ.get('SLURM_JOB_ID')
        scontrol = shutil.which('scontrol')
        if not job or not scontrol:
            return False
        try:
            done = subprocess.run([scontrol, 'requeue', job], capture_output=True, text=True,
                                  timeout=60)
        except subprocess.TimeoutExpired:
            runner.logger.warning(f'scontrol requeue {job} did not answer in 60 s; resume by '
                                  'hand')
            return False
        if done.returncode != 0:
            runner.logger.warning(f'scontrol requeue {job} failed ({done.returncode}): '
                                  f'{(done.stderr or done.stdout).strip()}; resume by hand')
            return False
        print(f'requeued SLURM job {job}', file=sys.stderr, flush=True)
        return True
