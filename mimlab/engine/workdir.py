"""What a run left in its work dir: the latest checkpoint, the logged scalars, the final metrics.

A work dir as mmengine's runner writes it: ``epoch_N.pth`` / ``iter_N.pth`` checkpoints, the
``last_checkpoint`` pointer of the checkpoint hook, and one ``<timestamp>/vis_data/scalars.json``
per run in it (LocalVisBackend, one JSON record per line; a resumed run adds a folder). Every
reader of these files (training's resume and summary, the sweep, the downstream grid, the
analysis tools) goes through this module.
"""
import json
import os
import os.path as osp
import re
from typing import Dict, Iterable, List, Optional

_CHECKPOINT_NAME = re.compile(r'(epoch|iter)_\d+\.pth')


def latest_checkpoint(work_dir: str, *, fallback: bool = False,
                      required: bool = False) -> Optional[str]:
    """The checkpoint that the file ``work_dir/last_checkpoint`` names.

    Args:
        fallback: when the pointer is missing, empty or names a file that is gone, the most
            recently written ``epoch_N.pth``/``iter_N.pth`` in ``work_dir`` (what ``--resume``
            continues from: mmengine's checkpoint hook writes the pointer with a plain
            ``open(..., 'w')``, so a run killed at that moment leaves it empty). Without it the
            pointer's text is returned as it is.
        required: raise ``FileNotFoundError`` naming the work dir instead of returning None.

    Returns:
        The checkpoint's path, or None when there is none.
    """
    pointer = osp.join(work_dir, 'last_checkpoint')
    named = None
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
    if fallback:
        if not (named and osp.isfile(named)):
            candidates = [e.path for e in os.scandir(work_dir)
                          if e.is_file() and _CHECKPOINT_NAME.fullmatch(e.name)
                          ] if osp.isdir(work_dir) else []
            named = max(candidates, key=osp.getmtime, default=None)
    if named is None and required:
        raise FileNotFoundError(f'{pointer} is missing: has the run in {work_dir} finished?')
    return named


def scalar_files(work_dir: str) -> List[str]:
    """The ``<run>/vis_data/scalars.json`` files of the runs in ``work_dir``, oldest run first
    (the run folders are named by their start time)."""
    if not osp.isdir(work_dir):
        return []
    paths = [osp.join(work_dir, run, 'vis_data', 'scalars.json')
             for run in sorted(os.listdir(work_dir)) if osp.isdir(osp.join(work_dir, run))]
    return [path for path in paths if osp.isfile(path)]


def read_scalars(work_dir: str, newest_run_only: bool = False) -> List[dict]:
    """Every record of the work dir's scalars files, oldest run first (or of the newest run
    only)."""
    files = scalar_files(work_dir)
    rows = []
    for path in files[-1:] if newest_run_only else files:
        with open(path) as f:
            rows += [json.loads(line) for line in f if line.strip()]
    return rows


def last_metric(rows: List[dict], metric: str) -> Optional[float]:
    """The last value of ``metric`` (or of a key ending in '/metric') in scalars records."""
    for row in reversed(rows):
        for key, value in row.items():
            if key == metric or key.endswith('/' + metric):
                return float(value)
    return None


def final_metrics(work_dir: str, keys: Iterable[str]) -> Dict[str, float]:
    """The last logged value of each of ``keys`` that the newest run in ``work_dir`` logged
    (the validation metrics of a finished run); {} if it logged none."""
    keys = list(keys)
    found: Dict[str, float] = {}
    for record in read_scalars(work_dir, newest_run_only=True):
        found.update({k: record[k] for k in keys if k in record})
    return found
