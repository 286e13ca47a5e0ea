"""Downstream runs (mmseg, mmdet, DDeP's U-Net) of a pretrained encoder: grids of fine-tunings
over seeds, label fractions and inits with their mean +- std tables, and pictures of their
predictions (``tools/analysis_tools/downstream_grid.py``, ``downstream_metrics.py`` and
``visualize_downstream.py`` are their command lines)."""
from .cells import (INIT_OPTIONS, METRICS, PERCENT_SCALE, TABLE_METRICS, DownstreamCell,
                    cell_checkpoints, cell_options, count_training_images, finished,
                    format_table, last_metrics, run_label, summarize_grid)
from .run import DownstreamGrid

__all__ = ['INIT_OPTIONS', 'METRICS', 'PERCENT_SCALE', 'TABLE_METRICS', 'DownstreamCell',
           'DownstreamGrid', 'cell_checkpoints', 'cell_options', 'count_training_images',
           'finished', 'format_table', 'last_metrics', 'run_label', 'summarize_grid']
