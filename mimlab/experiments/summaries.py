"""One table from the ``summary.json`` that every training run leaves in its work dir
(:class:`~mimlab.engine.hooks.RunSummaryHook`): one row per run, as Markdown or CSV; and the
curves of one logged scalar (e.g. the online kNN accuracy) of the same runs in one picture."""
import csv
import glob
import io
import json
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np
from matplotlib.figure import Figure

from mimlab.engine.hooks.run_summary_hook import SUMMARY_FILE
from mimlab.engine.workdir import read_scalars
from mimlab.visualization.reconstruction import figure_to_array

# (column, summary key, format): the table's columns, in order
COLUMNS = (
    ('run', 'work_dir', '{}'),
    ('config', 'config', '{}'),
    ('final loss', 'final_loss', '{:.4f}'),
    ('online kNN top-1 (%)', 'final_knn_top1', '{:.2f}'),
    ('images/s', 'images_per_s', '{:.1f}'),
    ('wall time (s)', 'wall_time_s', '{:.0f}'),
    ('peak memory (MiB)', 'peak_memory_mib', '{:.0f}'),
    ('iters', 'total_iters', '{}'),
    ('device', 'device', '{}'),
    ('torch', 'torch', '{}'),
    ('CUDA', 'cuda', '{}'),
    ('commit', 'git_commit', '{:.12}'),
    ('end time', 'end_time', '{}'),
)


def find_summaries(paths: Sequence[str]) -> List[str]:
    """The ``summary.json`` files of ``paths``: work dirs (or shell patterns of them), a folder
    of work dirs, or summary files themselves; in the order given, each once."""
    found: List[str] = []
    for path in paths:
        matches = sorted(glob.glob(path)) or [path]
        for match in matches:
            if osp.isfile(match):
                candidates = [match]
            elif osp.isfile(osp.join(match, SUMMARY_FILE)):
                candidates = [osp.join(match, SUMMARY_FILE)]
            else:
                candidates = sorted(glob.glob(osp.join(match, '*', SUMMARY_FILE)))
            found += [c for c in candidates if c not in found]
    if not found:
        raise FileNotFoundError(f'no {SUMMARY_FILE} in {list(paths)} (a training run writes one '
                                'into its work dir when it ends)')
    return found


def read_summaries(paths: Sequence[str]) -> List[Dict]:
    """The summaries of :func:`find_summaries`, each with its ``work_dir`` and
    ``peak_memory_mib`` added."""
    rows = []
    for path in find_summaries(paths):
        with open(path) as f:
            row = json.load(f)
        row['work_dir'] = osp.dirname(path)
        if row.get('peak_memory_bytes') is not None:
            row['peak_memory_mib'] = row['peak_memory_bytes'] / 2 ** 20
        rows.append(row)
    return rows


def _cell(row: Dict, key: str, fmt: str) -> str:
    value = row.get(key)
    if value is None:
        return ''
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def summary_table(rows: Sequence[Dict], fmt: str = 'md') -> str:
    """The rows as a Markdown table ('md') or CSV ('csv', unrounded values)."""
    if fmt == 'csv':
        out = io.StringIO()
        writer = csv.writer(out, lineterminator='\n')
        writer.writerow([name for name, _, _ in COLUMNS])
        for row in rows:
            writer.writerow(['' if row.get(key) is None else row[key] for _, key, _ in COLUMNS])
        return out.getvalue()
    if fmt != 'md':
        raise ValueError(f"table format must be 'md' or 'csv', got {fmt!r}")
    lines = ['| ' + ' | '.join(name for name, _, _ in COLUMNS) + ' |',
             '|' + '|'.join('---' for _ in COLUMNS) + '|']
    lines += ['| ' + ' | '.join(_cell(row, key, f) for _, key, f in COLUMNS) + ' |'
              for row in rows]
    return '\n'.join(lines) + '\n'


def scalar_curves(work_dirs: Sequence[str], key: str) -> Dict[str, tuple]:
    """{work dir: ([steps], [values])} of ``key`` in each run's ``scalars.json`` files (every
    session of a resumed run; a step logged twice keeps the later value); runs without it are
    left out."""
    curves = {}
    for work_dir in work_dirs:
        points = {row['step']: row[key] for row in read_scalars(work_dir) if key in row}
        if points:
            curves[work_dir] = (sorted(points), [points[s] for s in sorted(points)])
    return curves


def draw_curves(curves: Dict[str, tuple], key: str) -> np.ndarray:
    """One line per run (labelled by its work dir's name) of ``key`` against the iteration."""
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    for work_dir, (steps, values) in curves.items():
        ax.plot(steps, values, marker='o', markersize=3, label=osp.basename(work_dir.rstrip('/')))
    ax.set_xlabel('iteration')
    ax.set_ylabel(key)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return figure_to_array(fig)
