"""A sweep's table (CSV and JSON) and figure, from the result files of its cells."""
import csv
import json
import os
import os.path as osp
from typing import Any, Dict, List, Optional

from matplotlib.figure import Figure

from mimlab.engine.checkpoint import load_local_checkpoint, write_json
from .grid import Grid
from .settings import Cell, Sweep, result_file


def read_json(path: str) -> Optional[Any]:
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def checkpoint_iters(checkpoint: str) -> Optional[int]:
    """The iterations a checkpoint was trained for (its mmengine meta)."""
    if not osp.isfile(checkpoint):
        return None
    return load_local_checkpoint(checkpoint, map_location='cpu').get('meta', {}).get('iter')


def collect(cells: List[Cell], sweep: Sweep) -> List[dict]:
    """One row per grid point: its overrides, its evaluations' metrics (those finished), the
    pretraining loss, seconds per iteration and iterations, and its cell's folder name."""
    rows = []
    for cell in cells:
        row = dict(cell.overrides)
        info = read_json(osp.join(cell.dir, 'pretrain.json')) or {}
        for kind in sweep.evals:
            result = read_json(result_file(cell.dir, kind, sweep.settings.for_result(kind)))
            row.update(result['metrics'] if result else {})
        iters = checkpoint_iters(info['checkpoint']) if info else None
        row.update(pretrain_loss=info.get('pretrain_loss'), s_per_iter=info.get('s_per_iter'),
                   iters=iters, cell=osp.basename(cell.dir))
        rows.append(row)
    return rows


def metric_names(rows: List[dict], grid: Grid) -> List[str]:
    keys = {key for key, _ in grid} | {'pretrain_loss', 's_per_iter', 'iters', 'cell'}
    names = []
    for row in rows:
        names += [k for k in row if k not in keys and k not in names]
    return names


def write_table(rows: List[dict], sweep: Sweep) -> None:
    """``<work_dir>/<name>.csv``, ``.json`` (with the sweep's settings) and ``.png``."""
    stem = osp.join(sweep.work_dir, sweep.name)
    columns = [key for key, _ in sweep.grid] + metric_names(rows, sweep.grid) + [
        'pretrain_loss', 's_per_iter', 'iters', 'cell']
    tmp = f'{stem}.csv.tmp{os.getpid()}'
    with open(tmp, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: '' if row.get(k) is None else row.get(k) for k in columns})
    os.replace(tmp, f'{stem}.csv')
    write_json(f'{stem}.json', dict(
        config=sweep.config, grid=[dict(key=k, values=v) for k, v in sweep.grid],
        eval=list(sweep.evals), cfg_options=sweep.cfg_options, seed=sweep.settings.seed,
        eval_settings={kind: sweep.settings.for_result(kind) for kind in sweep.evals},
        rows=rows))
    plot(rows, sweep.grid, f'{stem}.png')


def plot(rows: List[dict], grid: Grid, path: str) -> None:
    """Metric against the first grid key; one line per metric (and per value of the other
    keys); the pretraining loss and step time in their own panels."""
    key, values = grid[0]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    xs = {repr(v): (v if numeric else i) for i, v in enumerate(values)}
    others = [k for k, _ in grid[1:]]
    panels = [('evaluation (%)', metric_names(rows, grid)),
              ('final pretraining loss', ['pretrain_loss']), ('s / iteration', ['s_per_iter'])]
    fig = Figure(figsize=(15, 4))
    axes = fig.subplots(1, 3)
    for ax, (title, names) in zip(axes, panels):
        for name in names:
            groups: Dict[str, list] = {}
            for row in rows:
                label = ', '.join([name] + [f'{k.split(".")[-1]}={row[k]}' for k in others])
                if row.get(name) is not None:
                    groups.setdefault(label, []).append((xs[repr(row[key])], row[name]))
            for label, points in groups.items():
                points.sort()
                ax.plot(*zip(*points), marker='o', label=label)
        ax.set_title(title)
        ax.set_xlabel(key)
        if not numeric:
            ax.set_xticks(range(len(values)), [str(v) for v in values])
        if ax.lines:
            ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
