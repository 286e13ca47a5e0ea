"""From a :class:`~.settings.Sweep` to its cells: one config per grid point, identical configs
sharing one cell (and so one folder)."""
import copy
import hashlib
import json
import os.path as osp
import re
from typing import Any, Dict, List

from mmengine.config import Config

from .grid import check_keys, expand_grid, lookup
from .settings import Cell, Sweep


def cell_config(base: Config, overrides: Dict[str, Any], seed: int) -> Config:
    """The base config (with the common options) plus one cell's overrides and the seed."""
    cfg = copy.deepcopy(base)
    cfg.merge_from_dict(overrides)
    cfg.randomness = dict(cfg.get('randomness', {}), seed=seed)
    return cfg


def config_hash(cfg: Config) -> str:
    text = json.dumps(cfg.to_dict(), sort_keys=True, default=repr)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def cell_name(base: Config, overrides: Dict[str, Any], digest: str) -> str:
    """Readable and unique: the overrides that change the base config, then the config hash."""
    changed = [f'{key.split(".")[-1]}={value}' for key, value in overrides.items()
               if lookup(base, key) != (True, value)]
    slug = re.sub(r'[^A-Za-z0-9._=-]+', '-', '_'.join(changed))[:60] or 'base'
    return f'{slug}-{digest}'


def plan(sweep: Sweep) -> List[Cell]:
    """One cell per grid point, in grid order; grid points with identical configs get the same
    :class:`~.settings.Cell` fields (name, folder) and differ only in their overrides."""
    points = expand_grid(sweep.grid)
    base = Config.fromfile(sweep.config)
    if sweep.cfg_options:
        base.merge_from_dict(sweep.cfg_options)
    check_keys(base, [key for key, _ in sweep.grid])
    by_hash: Dict[str, Cell] = {}
    cells = []
    for overrides in points:
        cfg = cell_config(base, overrides, sweep.settings.seed)
        digest = config_hash(cfg)
        if digest not in by_hash:
            name = cell_name(base, overrides, digest)
            by_hash[digest] = Cell(overrides, cfg, name, osp.join(sweep.work_dir, 'cells', name))
        first = by_hash[digest]
        cells.append(Cell(overrides, first.cfg, first.name, first.dir))
    return cells
