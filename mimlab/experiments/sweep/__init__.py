"""Rerun a paper's ablation figure: pretrain every cell of a grid of config overrides with the
same budget and seed, evaluate each, and write a table and a line plot (``tools/sweep.py`` is its
command line; docs/studies.md its uses).

A cell is named by a hash of its full config, so a cell that is finished is skipped (two sweeps
that share a work dir share their identical cells), and a cell that was killed resumes from its
last checkpoint. Under a launcher each process runs its share of the cells.
"""
from .grid import Grid, expand_grid, parse_grid
from .plan import plan
from .run import run_sweep
from .settings import EVALS, Cell, EvalSettings, Sweep

__all__ = ['EVALS', 'Cell', 'EvalSettings', 'Grid', 'Sweep', 'expand_grid', 'parse_grid', 'plan',
           'run_sweep']
