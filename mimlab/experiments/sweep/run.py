"""Running a sweep's cells: pretraining (resumable), the evaluations, and the loop over the cells
of this process."""
import itertools
import os
import os.path as osp
import statistics
from typing import Dict, List, Sequence

import torch
from mmengine.config import Config

from mimlab.apis import init_model
from mimlab.apis.train import train, training_config
from mimlab.datasets import build_split_dataset
from mimlab.engine.checkpoint import write_json
from mimlab.engine.errors import ConfigError
from mimlab.engine.workdir import last_metric, latest_checkpoint, read_scalars
from mimlab.evaluation import extract_features, knn_accuracy, train_linear_probe
from ..runs import Grid, dist_env, run_grid
from .grid import lookup
from .plan import plan
from .report import collect, read_json, write_table
from .settings import Cell, EvalSettings, Sweep, result_file

_RUNS = itertools.count()


def run_training(cfg: Config, work_dir: str, label: str) -> str:
    """Train ``cfg`` (dumped to ``<work_dir>.py``), resuming whatever ``work_dir`` holds;
    returns the last checkpoint."""
    cfg = Config(cfg.to_dict())  # a copy, without the file name (that is the dumped file)
    # mmengine names loggers after the experiment: unique per run in this process
    cfg.experiment_name = f'{label}_{os.getpid()}_{next(_RUNS)}'
    # ... and so must the visualizer be: a fixed name (mmseg's and mmdet's runtimes say
    # name='visualizer') returns the previous run's instance, which writes this run's scalars
    # into the previous run's directory. Without a name mmengine uses the experiment name.
    if isinstance(cfg.get('visualizer'), dict):
        cfg.visualizer.pop('name', None)
    config_file = f'{work_dir}.py'
    cfg.dump(config_file)
    train(training_config(Config.fromfile(config_file), work_dir=work_dir, resume='auto'))
    checkpoint = latest_checkpoint(work_dir)
    if checkpoint is None:
        raise ConfigError(f'{work_dir}: training saved no checkpoint (checkpoint hook off?)')
    return checkpoint


def training_stats(work_dir: str) -> dict:
    """The last logged training loss (the logger's moving average) and the median logged
    seconds per iteration."""
    rows = read_scalars(work_dir)
    losses = [r['loss'] for r in rows if 'loss' in r]
    times = [r['time'] for r in rows if 'time' in r and 'loss' in r]
    return dict(pretrain_loss=losses[-1] if losses else None,
                s_per_iter=statistics.median(times) if times else None)


def pretrain(cell: Cell) -> dict:
    """The cell's pretraining (resumed if it was killed, skipped if it finished): its last
    checkpoint and training statistics, kept in ``pretrain.json``."""
    done = osp.join(cell.dir, 'pretrain.json')
    result = read_json(done)
    if result is not None:
        return result
    work_dir = osp.join(cell.dir, 'pretrain')
    checkpoint = run_training(cell.cfg, work_dir, cell.name)
    result = dict(checkpoint=checkpoint, **training_stats(work_dir))
    write_json(done, result)
    return result


def evaluate_features(cfg: Config, checkpoint: str, kinds: Sequence[str],
                      settings: EvalSettings) -> Dict[str, dict]:
    """Linear probe and kNN of one checkpoint on features extracted once per pool."""
    torch.manual_seed(settings.seed)
    model = init_model(cfg, checkpoint)
    train_set = build_split_dataset(cfg, settings.probe_train_split,
                                    indices=settings.probe_train_images)
    test_set = build_split_dataset(cfg, settings.probe_test_split,
                                   indices=settings.probe_test_images)
    classes = train_set.metainfo.get('classes')
    if not classes:
        raise ConfigError(f'the {settings.probe_train_split} split has no class labels to probe')
    results = {kind: {} for kind in kinds}
    for pool in settings.pool:
        train_features = extract_features(model, train_set, pool=pool)
        test_features = extract_features(model, test_set, pool=pool)
        if 'linear_probe' in kinds:
            acc = train_linear_probe(train_features, test_features, len(classes),
                                     epochs=settings.probe_epochs, lr=settings.probe_lr,
                                     seed=settings.seed)
            results['linear_probe'][f'linear_probe_{pool}'] = acc['test_top1']
        if 'knn' in kinds:
            acc = knn_accuracy(train_features, test_features, len(classes), k=settings.knn_k,
                               temperature=settings.knn_temperature)
            results['knn'][f'knn_{pool}'] = acc['knn_top1']
    return results


def eval_config_with(settings: EvalSettings, checkpoint: str) -> Config:
    """The evaluation config with the pretraining checkpoint where it belongs and the seed."""
    cfg = Config.fromfile(settings.eval_config)
    if settings.eval_cfg_options:
        cfg.merge_from_dict(settings.eval_cfg_options)
    if settings.checkpoint_key:
        # e.g. DDeP: the pretrained part is the decoder, named by a key of the eval config
        if not lookup(cfg, settings.checkpoint_key)[0]:
            raise ConfigError(f'--eval-config {settings.eval_config} has no key '
                              f'{settings.checkpoint_key!r} (--checkpoint-key) to put the '
                              'pretraining checkpoint in')
        cfg.merge_from_dict({settings.checkpoint_key: osp.abspath(checkpoint)})
    elif not lookup(cfg, 'model.backbone')[0]:
        raise ConfigError(f'--eval-config {settings.eval_config} has no model.backbone to load '
                          'the pretrained encoder into')
    else:
        cfg.model.backbone['init_cfg'] = dict(type='Pretrained',
                                              checkpoint=osp.abspath(checkpoint),
                                              prefix='backbone.')
    cfg.randomness = dict(cfg.get('randomness', {}), seed=settings.seed)
    return cfg


def evaluate_by_training(cell: Cell, kind: str, checkpoint: str,
                         settings: EvalSettings) -> dict:
    """Fine-tune (``finetune``, ``miou``) from the cell's checkpoint; the metric is its last
    logged value."""
    cfg = eval_config_with(settings, checkpoint)
    result_settings = settings.for_result(kind)
    work_dir = osp.splitext(result_file(cell.dir, kind, result_settings))[0]
    run_training(cfg, work_dir, f'{cell.name}_{kind}')
    metric = result_settings['eval_metric']
    value = last_metric(read_scalars(work_dir), metric)
    if value is None:
        raise ConfigError(f'{work_dir}: the {kind} run logged no {metric!r} (set --eval-metric, '
                          'and give the eval config a val loop)')
    return {kind: value}


def run_cell(cell: Cell, sweep: Sweep) -> None:
    """Pretrain the cell and run each evaluation that has no result file yet."""
    os.makedirs(cell.dir, exist_ok=True)
    info = pretrain(cell)
    settings = sweep.settings
    feature_kinds = []
    for kind in sweep.evals:
        path = result_file(cell.dir, kind, settings.for_result(kind))
        if osp.isfile(path):
            continue
        if kind in ('linear_probe', 'knn'):
            feature_kinds.append((kind, path))
            continue
        metrics = evaluate_by_training(cell, kind, info['checkpoint'], settings)
        write_json(path, dict(settings=settings.for_result(kind), metrics=metrics))
    if feature_kinds:
        results = evaluate_features(cell.cfg, info['checkpoint'],
                                    [kind for kind, _ in feature_kinds], settings)
        for kind, path in feature_kinds:
            write_json(path, dict(settings=settings.for_result(kind), metrics=results[kind]))


class SweepGrid(Grid):
    """A sweep's cells, run one after the other in this process (each pretraining resumes and
    each evaluation is skipped when it has a result), a launcher's rank taking its share."""

    tag = 'sweep'

    def __init__(self, sweep: Sweep) -> None:
        self.sweep = sweep
        self.cells: List[Cell] = []

    def plan(self) -> List[Cell]:
        self.cells = plan(self.sweep)
        os.makedirs(self.sweep.work_dir, exist_ok=True)
        return self.cells

    def folder(self, cell: Cell) -> str:
        return cell.dir

    def share(self, cells: List[Cell]) -> List[Cell]:
        """This process's share of the distinct cells (:func:`~..runs.dist_env`), on its
        ``LOCAL_RANK`` GPU."""
        rank, world, local_rank = dist_env()
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank)
        mine = cells[rank::world]
        print(f'sweep: {len(self.cells)} grid points, {len(cells)} distinct cells, '
              f'{len(mine)} for process {rank} of {world}', flush=True)
        return mine

    def run_cell(self, cell: Cell, index: int, count: int) -> None:
        """Pretrain and evaluate the cell, then write the table of every cell finished so
        far."""
        print(f'sweep: cell {index + 1}/{count} {cell.name} {cell.overrides}', flush=True)
        run_cell(cell, self.sweep)
        write_table(collect(self.cells, self.sweep), self.sweep)

    def report(self, cells: List[Cell]) -> List[dict]:
        rows = collect(cells, self.sweep)
        write_table(rows, self.sweep)
        print(f'sweep: table {osp.join(self.sweep.work_dir, self.sweep.name)}.csv / .json / '
              '.png', flush=True)
        return rows


def run_sweep(sweep: Sweep) -> List[dict]:
    """Run this process's share of the distinct cells, then write the table of every cell
    finished so far; returns its rows."""
    return run_grid(SweepGrid(sweep))
