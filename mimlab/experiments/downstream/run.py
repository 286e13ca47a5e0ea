"""Running a downstream grid: each cell is ``tools/train.py`` in a child process, a finished
cell is skipped, and the table goes to stdout, ``table.md`` and ``results.json``."""
import itertools
import json
import os
import os.path as osp
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Sequence

from mmengine.config import Config

from mimlab.engine.errors import ConfigError
from ..runs import Grid, read_usage
from .cells import (INIT_OPTIONS, DownstreamCell, cell_checkpoints, cell_options,
                    count_training_images, finished, format_table, summarize_grid)

# What to do when a checkpoint that an init needs is not there.
_MISSING = dict(mae='run `make demo`', ddep='train the DDeP config first',
                dep='train the DeP config first')


@dataclass
class DownstreamGrid(Grid):
    """Every (task, percent, seed, init) of the products, in that order (an init that a task
    does not have is left out), fine-tuned by ``train_script`` on ``configs[task]``.

    Args:
        work_dir: the cells' folders (``<work_dir>/<cell name>``) and the table.
        configs: the config of each task ('seg', 'det', 'ddep').
        checkpoints: the checkpoints the inits load ('mae', 'ddep', 'dep'); ``{seed}`` in a
            path is each cell's seed (one pretraining run per seed).
        train_script: the ``tools/train.py`` that runs each cell.
        cfg_options: ``--cfg-options`` of every cell (after the cell's own).
    """
    work_dir: str
    configs: Dict[str, str]
    checkpoints: Dict[str, str]
    train_script: str
    tasks: Sequence[str] = ('seg', 'det')
    percents: Sequence[float] = (10, 100)
    inits: Sequence[str] = ('mae', 'random')
    seeds: Sequence[int] = (0, 1, 2)
    cfg_options: Sequence[str] = ()
    num_train: Dict[str, int] = field(default_factory=dict)

    tag = 'grid'

    def plan(self) -> List[DownstreamCell]:
        cells = [DownstreamCell(task, percent, init, seed) for task, percent, seed, init in
                 itertools.product(self.tasks, self.percents, self.seeds, self.inits)
                 if init in INIT_OPTIONS[task]]
        if not cells:
            raise ConfigError(f'no cell: none of --inits {list(self.inits)} applies to --tasks '
                              f'{list(self.tasks)}')
        return cells

    def folder(self, cell: DownstreamCell) -> str:
        return cell.folder(self.work_dir)

    def finished(self, cell: DownstreamCell) -> bool:
        return finished(self.work_dir, cell) is not None

    def prepare(self, todo: List[DownstreamCell]) -> None:
        """Every checkpoint the cells to run load must exist; count each task's training
        images (the labelled subsets are a percent of them)."""
        needed = {(name, cell_checkpoints(c, self.checkpoints)[name]) for c in todo
                  for option in INIT_OPTIONS[c.task][c.init]
                  for name in self.checkpoints if '{' + name + '}' in option}
        for name, path in sorted(needed):
            if not osp.isfile(path):
                flag = '--checkpoint' if name == 'mae' else f'--{name}-checkpoint'
                raise ConfigError(f'{flag} {path} is missing ({_MISSING[name]})')
        for task in {c.task for c in todo}:
            self.num_train[task] = count_training_images(
                task, Config.fromfile(self.configs[task]).data_root)

    def command(self, cell: DownstreamCell) -> List[str]:
        return [sys.executable, self.train_script, self.configs[cell.task], '--work-dir',
                self.folder(cell), '--cfg-options',
                *cell_options(cell, self.num_train[cell.task], self.checkpoints),
                *self.cfg_options]

    def report(self, cells: List[DownstreamCell]) -> List[dict]:
        results = {c: finished(self.work_dir, c) for c in cells}
        rows = summarize_grid(results)
        table = format_table(rows)
        print(table)
        os.makedirs(self.work_dir, exist_ok=True)
        with open(osp.join(self.work_dir, 'table.md'), 'w') as f:
            f.write(table + '\n')
        with open(osp.join(self.work_dir, 'results.json'), 'w') as f:
            json.dump([dict(cell=c.name, task=c.task, percent=c.percent, init=c.init,
                            seed=c.seed, metrics=r, usage=read_usage(self.folder(c)))
                       for c, r in results.items()], f, indent=1)
        return rows

