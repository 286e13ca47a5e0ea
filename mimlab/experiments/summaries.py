"""One table from the ``summary.json`` that every training run leaves in its work dir
(:class:`~mimlab.engine.hooks.RunSummaryHook`): one row per run, as Markdown or CSV."""
import csv
import glob
import io
import json
import os.path as osp
from typing import Dict, List, Sequence

from mimlab.engine.hooks.run_summary_hook import SUMMARY_FILE

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
