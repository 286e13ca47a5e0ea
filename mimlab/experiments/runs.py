"""Grids of runs: the core that the ablation sweep and the downstream grid share.

A :class:`Grid` plans its cells (each with its own folder), says which have finished, runs a
cell (in this process, or as a child process given by its command line) and reports the table
of what has finished. :func:`run_grid` runs a grid: the distinct cells, this process's share of
them, the unfinished ones (so rerunning a grid resumes it), one after the other in this process
or ``jobs`` child processes side by side, then the report.

A child process runs with one thread; its output goes to ``<folder>/grid.log``, its process id
to ``<folder>/grid.pid`` while it runs (another grid on the same work dir leaves that cell to
it), and its CPU and wall seconds and exit code to ``<folder>/usage.json``.
"""
import json
import os
import os.path as osp
import subprocess
import time
from abc import ABC, abstractmethod
from typing import Any, List, Optional, Sequence, Tuple


class Grid(ABC):
    """What :func:`run_grid` asks of a grid; ``tag`` prefixes its messages."""

    tag = 'grid'

    @abstractmethod
    def plan(self) -> List[Any]:
        """Every cell, in grid order (grid points with the same folder share a cell)."""

    @abstractmethod
    def folder(self, cell: Any) -> str:
        """Where the cell's run writes."""

    def finished(self, cell: Any) -> bool:
        """Whether the cell's run has finished (it is skipped); default: the cell's run resumes
        or skips what it finished itself."""
        return False

    def share(self, cells: List[Any]) -> List[Any]:
        """The cells this process runs (all of them; a launcher's rank takes its share)."""
        return cells

    def prepare(self, todo: List[Any]) -> None:
        """Check and set up what the cells to run need, before any of them starts."""

    def command(self, cell: Any) -> Optional[List[str]]:
        """The command line of a child process that runs the cell, or None to run it here
        (:meth:`run_cell`)."""
        return None

    def run_cell(self, cell: Any, index: int, count: int) -> None:
        """Run the ``index``-th (from 0) of the ``count`` cells to run, in this process."""
        raise NotImplementedError(f'{type(self).__name__} runs its cells as child processes')

    @abstractmethod
    def report(self, cells: List[Any]) -> List[dict]:
        """The table of the finished cells (printed and written); its rows."""


def distinct(cells: Sequence[Any], grid: Grid) -> List[Any]:
    """One cell per folder, in the order the folders first appear."""
    return list({grid.folder(cell): cell for cell in cells}.values())


def dist_env() -> Tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's or Slurm's environment; (0, 1, 0) alone."""
    env = os.environ
    if 'RANK' in env and 'WORLD_SIZE' in env:
        return int(env['RANK']), int(env['WORLD_SIZE']), int(env.get('LOCAL_RANK', 0))
    if 'SLURM_PROCID' in env and 'SLURM_NTASKS' in env:
        return (int(env['SLURM_PROCID']), int(env['SLURM_NTASKS']),
                int(env.get('SLURM_LOCALID', 0)))
    return 0, 1, 0


def run_grid(grid: Grid, jobs: int = 1, train: bool = True) -> List[dict]:
    """Run the unfinished cells of this process's share of ``grid`` (``jobs`` child processes
    at a time, for a grid whose cells run as child processes), then report; ``train=False``
    only reports. Returns the report's rows."""
    cells = grid.plan()
    if train:
        todo = [cell for cell in grid.share(distinct(cells, grid)) if not grid.finished(cell)]
        grid.prepare(todo)
        children = Children(jobs, grid.tag)
        for index, cell in enumerate(todo):
            folder = grid.folder(cell)
            command = grid.command(cell)
            if command is not None:
                # a free slot first: while this grid waited, another one may have taken the cell
                children.wait(jobs - 1)
                if grid.finished(cell):
                    print(f'[{grid.tag}] skip {osp.basename(folder)}: another process finished '
                          'it', flush=True)
                    continue
            if running_elsewhere(folder):
                print(f'[{grid.tag}] skip {osp.basename(folder)}: another process runs it',
                      flush=True)
                continue
            if command is None:
                grid.run_cell(cell, index, len(todo))
            else:
                children.start(folder, command)
        children.wait(0)
    return grid.report(cells)


def running_elsewhere(folder: str) -> bool:
    """Whether a live process (another grid on the same work dir) runs the cell in ``folder``
    now: its ``grid.pid`` names a live process."""
    path = osp.join(folder, 'grid.pid')
    if not osp.isfile(path):
        return False
    with open(path) as f:
        pid = int(f.read())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def read_usage(folder: str) -> Optional[dict]:
    """The ``usage.json`` of a cell's child process (CPU and wall seconds, exit code), or
    None."""
    path = osp.join(folder, 'usage.json')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


class Children:
    """At most ``jobs`` child processes side by side, each the run of one cell."""

    def __init__(self, jobs: int, tag: str) -> None:
        self.jobs, self.tag = jobs, tag
        self.running: list = []  # (folder, process, log file, start time)

    def start(self, folder: str, command: List[str]) -> None:
        """Start the cell's command once fewer than ``jobs`` run, with one thread."""
        self.wait(self.jobs - 1)
        name = osp.basename(folder)
        print(f'[{self.tag}] start {name}', flush=True)
        os.makedirs(folder, exist_ok=True)
        env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
        log = open(osp.join(folder, 'grid.log'), 'w')
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        with open(osp.join(folder, 'grid.pid'), 'w') as f:
            f.write(str(process.pid))
        self.running.append((folder, process, log, time.time()))

    def wait(self, most: int) -> None:
        """Wait until at most ``most`` children run."""
        while True:
            self.running = [child for child in self.running if not self._reaped(*child)]
            if len(self.running) <= most:
                return
            time.sleep(2)

    def _reaped(self, folder: str, process: subprocess.Popen, log, start: float) -> bool:
        """Whether the child has ended; then close its log, write its usage and say how it
        ended."""
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid == 0:
            return False
        code = os.waitstatus_to_exitcode(status)
        process.returncode = code
        log.close()
        if osp.isfile(osp.join(folder, 'grid.pid')):
            os.remove(osp.join(folder, 'grid.pid'))
        with open(osp.join(folder, 'usage.json'), 'w') as f:
            json.dump(dict(cpu_s=round(usage.ru_utime + usage.ru_stime, 1),
                           wall_s=round(time.time() - start, 1), exit_code=code), f)
        print(f'[{self.tag}] {"done" if code == 0 else f"FAILED ({code}), see grid.log:"} '
              f'{osp.basename(folder)}', flush=True)
        return True
