"""Rerun a paper's ablation figure: pretrain every cell of a grid of config overrides with the
same budget and seed, evaluate each, and write a table and a line plot.

    python tools/sweep.py CONFIG --grid KEY=V1,V2,... [--grid KEY2=...] \
        --eval linear_probe [knn finetune miou] --work-dir DIR \
        [--cfg-options KEY=VALUE ...] [--name NAME] [--pool cls [avg]] \
        [--eval-config CFG --eval-cfg-options KEY=VALUE ...]

Values are Python literals (``0.75``, ``True``, ``None``, ``[0,2,4]``) or plain strings; commas
inside brackets do not split. The cells are the product of the grids, each pretrained with
tools/train.py on CONFIG + ``--cfg-options`` (the common budget) + its own overrides, with
``randomness.seed = --seed``. Layout of DIR:

    cells/<name>-<hash>/config.py        the cell's full config (rerun it with tools/train.py)
    cells/<name>-<hash>/pretrain/        the pretraining work dir (checkpoints, logs)
    cells/<name>-<hash>/pretrain.json    written when pretraining has finished
    cells/<name>-<hash>/eval-*.json      one per evaluation and its settings
    NAME.csv, NAME.json, NAME.png        the table and the figure (metric against the first
                                         grid key, one line per metric)

A cell is named by a hash of its full config, so a cell that is finished is skipped (two sweeps
that share DIR share their identical cells), and a cell that was killed resumes from its last
checkpoint (``train.py --resume``). Evaluations:

- ``linear_probe``, ``knn``: frozen encoder features (``--pool``) of the config's train and test
  splits (first ``--probe-train-images`` / ``--probe-test-images``), then
  :func:`mimlab.evaluation.train_linear_probe` / :func:`mimlab.evaluation.knn_accuracy`.
- ``finetune``, ``miou``: tools/train.py on ``--eval-config`` with the cell's checkpoint as
  ``model.backbone.init_cfg`` (``Pretrained``, prefix ``backbone.``); the metric
  (``--eval-metric``, default ``top1`` / ``mIoU``) is its last value in the run's scalars.

Under a launcher (``torchrun --nproc_per_node 8 tools/sweep.py ...``, ``srun --ntasks 16 python
tools/sweep.py ...``) each process runs its share of the cells (``RANK`` / ``WORLD_SIZE`` or
``SLURM_PROCID`` / ``SLURM_NTASKS``), one single-process run per cell on its ``LOCAL_RANK`` GPU;
every process writes the table of the cells finished so far, so the last one to finish writes it
whole (rerunning the command rewrites it without training anything).
"""
import argparse
import ast
import copy
import csv
import hashlib
import itertools
import json
import os
import os.path as osp
import re
import statistics
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config, DictAction

from mimlab.apis import init_model
from mimlab.apis.train import last_checkpoint, train, training_config
from mimlab.datasets import build_split_dataset
from mimlab.engine.checkpoint import load_local_checkpoint
from mimlab.engine.errors import one_line_errors
from mimlab.evaluation import extract_features, knn_accuracy, train_linear_probe

EVALS = ('linear_probe', 'knn', 'finetune', 'miou')
DEFAULT_EVAL_METRIC = dict(finetune='top1', miou='mIoU')
# Settings of each evaluation that make its result: a change gives a new result file.
_PROBE_SETTINGS = ('pool', 'probe_train_images', 'probe_test_images', 'seed')
EVAL_SETTINGS = dict(
    linear_probe=_PROBE_SETTINGS + ('probe_epochs', 'probe_lr'),
    knn=_PROBE_SETTINGS + ('knn_k', 'knn_temperature'),
    finetune=('eval_config', 'eval_cfg_options', 'eval_metric', 'seed'),
    miou=('eval_config', 'eval_cfg_options', 'eval_metric', 'seed'),
)
Grid = List[Tuple[str, List[Any]]]


# ---------------------------------------------------------------- the grid

def split_values(text: str) -> List[str]:
    """Split on the commas outside brackets and quotes: '[0,2],[4]' -> ['[0,2]', '[4]']."""
    parts, depth, quote, current = [], 0, None, ''
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in '\'"':
            quote = char
        elif char in '([{':
            depth += 1
        elif char in ')]}':
            depth -= 1
        elif char == ',' and depth == 0:
            parts.append(current)
            current = ''
            continue
        current += char
    parts.append(current)
    return [p.strip() for p in parts]


def parse_value(text: str) -> Any:
    """A Python literal where it is one ('0.5', 'True', 'None', '[0, 2]'), else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_grid(text: str) -> Tuple[str, List[Any]]:
    """'key=v1,v2,...' -> (key, [v1, v2, ...])."""
    key, sep, values = text.partition('=')
    if not sep or not key or not values.strip():
        raise ValueError(f'--grid {text!r}: expected KEY=V1,V2,...')
    parsed = [parse_value(v) for v in split_values(values)]
    if any(v == '' for v in parsed):
        raise ValueError(f'--grid {text!r}: an empty value')
    return key.strip(), parsed


def expand_grid(grid: Grid) -> List[Dict[str, Any]]:
    """The product of the grids, the last key varying fastest: one override dict per cell."""
    keys = [key for key, _ in grid]
    if len(set(keys)) != len(keys):
        raise ValueError(f'--grid: a key appears twice in {keys}')
    return [dict(zip(keys, values)) for values in itertools.product(*[v for _, v in grid])]


def _lookup(cfg: Any, key: str) -> Tuple[bool, Any]:
    """(found, value) of a dotted key in a config (list indices allowed)."""
    node = cfg
    for part in key.split('.'):
        if isinstance(node, (list, tuple)) and part.lstrip('-').isdigit() and \
                -len(node) <= int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, (dict, Config)) and part in node:
            node = node[part]
        else:
            return False, None
    return True, node


def check_keys(cfg: Config, keys: Sequence[str], flag: str = '--grid') -> None:
    """Every key's parent must exist in the config (the leaf may be a constructor default):
    a typo fails here, before anything trains."""
    for key in keys:
        parent = key.rpartition('.')[0]
        if parent and not _lookup(cfg, parent)[0]:
            raise SystemExit(f'{flag} key {key!r}: the config has no {parent!r}')


# ---------------------------------------------------------------- cells

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
               if _lookup(base, key) != (True, value)]
    slug = re.sub(r'[^A-Za-z0-9._=-]+', '-', '_'.join(changed))[:60] or 'base'
    return f'{slug}-{digest}'


def dist_env() -> Tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's or Slurm's environment; (0, 1, 0) alone."""
    env = os.environ
    if 'RANK' in env and 'WORLD_SIZE' in env:
        return int(env['RANK']), int(env['WORLD_SIZE']), int(env.get('LOCAL_RANK', 0))
    if 'SLURM_PROCID' in env and 'SLURM_NTASKS' in env:
        return (int(env['SLURM_PROCID']), int(env['SLURM_NTASKS']),
                int(env.get('SLURM_LOCALID', 0)))
    return 0, 1, 0


_RUNS = itertools.count()


def _write_json(path: str, data: Any) -> None:
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w') as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def _read_json(path: str) -> Optional[Any]:
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def run_training(cfg: Config, work_dir: str, label: str) -> str:
    """Train ``cfg`` (dumped beside ``work_dir``), resuming whatever ``work_dir``
    holds; returns the last checkpoint."""
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
    with one_line_errors():
        train(training_config(Config.fromfile(config_file), work_dir=work_dir, resume='auto'))
    checkpoint = last_checkpoint(work_dir)
    if checkpoint is None:
        raise SystemExit(f'{work_dir}: training saved no checkpoint (checkpoint hook off?)')
    return checkpoint


def read_scalars(work_dir: str) -> List[dict]:
    """Every line of the run's ``vis_data/scalars.json`` files, oldest run first."""
    rows = []
    for log_dir in sorted(d for d in os.listdir(work_dir) if osp.isdir(osp.join(work_dir, d))):
        path = osp.join(work_dir, log_dir, 'vis_data', 'scalars.json')
        if osp.isfile(path):
            with open(path) as f:
                rows += [json.loads(line) for line in f if line.strip()]
    return rows


def last_metric(rows: List[dict], metric: str) -> Optional[float]:
    """The last value of ``metric`` (or of a key ending in '/metric') in scalars rows."""
    for row in reversed(rows):
        for key, value in row.items():
            if key == metric or key.endswith('/' + metric):
                return float(value)
    return None


def training_stats(work_dir: str) -> dict:
    """The last logged training loss (the logger's moving average) and the median logged
    seconds per iteration."""
    rows = read_scalars(work_dir)
    losses = [r['loss'] for r in rows if 'loss' in r]
    times = [r['time'] for r in rows if 'time' in r and 'loss' in r]
    return dict(pretrain_loss=losses[-1] if losses else None,
                s_per_iter=statistics.median(times) if times else None)


def checkpoint_iters(checkpoint: str) -> Optional[int]:
    """The iterations a checkpoint was trained for (its mmengine meta)."""
    if not osp.isfile(checkpoint):
        return None
    return load_local_checkpoint(checkpoint, map_location='cpu').get('meta', {}).get('iter')


def pretrain(cell_dir: str, cfg: Config, name: str) -> dict:
    done = osp.join(cell_dir, 'pretrain.json')
    result = _read_json(done)
    if result is not None:
        return result
    work_dir = osp.join(cell_dir, 'pretrain')
    checkpoint = run_training(cfg, work_dir, name)
    result = dict(checkpoint=checkpoint, **training_stats(work_dir))
    _write_json(done, result)
    return result


def eval_settings(kind: str, args: argparse.Namespace) -> dict:
    settings = {key: getattr(args, key) for key in EVAL_SETTINGS[kind]}
    if kind in ('finetune', 'miou'):
        settings['eval_metric'] = args.eval_metric or DEFAULT_EVAL_METRIC[kind]
        settings['eval_config'] = osp.abspath(args.eval_config)
        if args.checkpoint_key:  # (absent by default, so earlier result files keep their names)
            settings['checkpoint_key'] = args.checkpoint_key
    return settings


def eval_file(cell_dir: str, kind: str, settings: dict) -> str:
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True, default=repr).encode())
    return osp.join(cell_dir, f'eval-{kind}-{digest.hexdigest()[:8]}.json')


def evaluate_features(cfg: Config, checkpoint: str, kinds: Sequence[str],
                      args: argparse.Namespace) -> Dict[str, dict]:
    """Linear probe and kNN of one checkpoint on features extracted once per pool."""
    torch.manual_seed(args.seed)
    model = init_model(cfg, checkpoint)
    train_set = build_split_dataset(cfg, args.probe_train_split, indices=args.probe_train_images)
    test_set = build_split_dataset(cfg, args.probe_test_split, indices=args.probe_test_images)
    classes = train_set.metainfo.get('classes')
    if not classes:
        raise SystemExit(f'the {args.probe_train_split} split has no class labels to probe')
    results = {kind: {} for kind in kinds}
    for pool in args.pool:
        train = extract_features(model, train_set, pool=pool)
        test = extract_features(model, test_set, pool=pool)
        if 'linear_probe' in kinds:
            acc = train_linear_probe(train, test, len(classes), epochs=args.probe_epochs,
                                     lr=args.probe_lr, seed=args.seed)
            results['linear_probe'][f'linear_probe_{pool}'] = acc['test_top1']
        if 'knn' in kinds:
            acc = knn_accuracy(train, test, len(classes), k=args.knn_k,
                               temperature=args.knn_temperature)
            results['knn'][f'knn_{pool}'] = acc['knn_top1']
    return results


def evaluate_by_training(cell_dir: str, kind: str, checkpoint: str, name: str,
                         args: argparse.Namespace, settings: dict) -> dict:
    cfg = Config.fromfile(args.eval_config)
    if args.eval_cfg_options:
        cfg.merge_from_dict(args.eval_cfg_options)
    if args.checkpoint_key:
        # e.g. DDeP: the pretrained part is the decoder, named by a key of the eval config
        if not _lookup(cfg, args.checkpoint_key)[0]:
            raise SystemExit(f'--eval-config {args.eval_config} has no key '
                             f'{args.checkpoint_key!r} (--checkpoint-key) to put the '
                             'pretraining checkpoint in')
        cfg.merge_from_dict({args.checkpoint_key: osp.abspath(checkpoint)})
    elif not _lookup(cfg, 'model.backbone')[0]:
        raise SystemExit(f'--eval-config {args.eval_config} has no model.backbone to load the '
                         'pretrained encoder into')
    else:
        cfg.model.backbone['init_cfg'] = dict(type='Pretrained',
                                              checkpoint=osp.abspath(checkpoint),
                                              prefix='backbone.')
    cfg.randomness = dict(cfg.get('randomness', {}), seed=args.seed)
    work_dir = osp.splitext(eval_file(cell_dir, kind, settings))[0]
    run_training(cfg, work_dir, f'{name}_{kind}')
    metric = settings['eval_metric']
    value = last_metric(read_scalars(work_dir), metric)
    if value is None:
        raise SystemExit(f'{work_dir}: the {kind} run logged no {metric!r} (set --eval-metric, '
                         'and give the eval config a val loop)')
    return {kind: value}


def run_cell(cell: dict, args: argparse.Namespace) -> None:
    os.makedirs(cell['dir'], exist_ok=True)
    info = pretrain(cell['dir'], cell['cfg'], cell['name'])
    feature_kinds = []
    for kind in args.eval:
        settings = eval_settings(kind, args)
        path = eval_file(cell['dir'], kind, settings)
        if osp.isfile(path):
            continue
        if kind in ('linear_probe', 'knn'):
            feature_kinds.append((kind, path, settings))
            continue
        metrics = evaluate_by_training(cell['dir'], kind, info['checkpoint'], cell['name'],
                                       args, settings)
        _write_json(path, dict(settings=settings, metrics=metrics))
    if feature_kinds:
        results = evaluate_features(cell['cfg'], info['checkpoint'],
                                    [k for k, _, _ in feature_kinds], args)
        for kind, path, settings in feature_kinds:
            _write_json(path, dict(settings=settings, metrics=results[kind]))


# ---------------------------------------------------------------- the table and the figure

def collect(cells: List[dict], grid: Grid, args: argparse.Namespace) -> List[dict]:
    rows = []
    for cell in cells:
        row = dict(cell['overrides'])
        info = _read_json(osp.join(cell['dir'], 'pretrain.json')) or {}
        for kind in args.eval:
            result = _read_json(eval_file(cell['dir'], kind, eval_settings(kind, args)))
            row.update(result['metrics'] if result else {})
        iters = checkpoint_iters(info['checkpoint']) if info else None
        row.update(pretrain_loss=info.get('pretrain_loss'), s_per_iter=info.get('s_per_iter'),
                   iters=iters, cell=osp.basename(cell['dir']))
        rows.append(row)
    return rows


def metric_names(rows: List[dict], grid: Grid) -> List[str]:
    keys = {key for key, _ in grid} | {'pretrain_loss', 's_per_iter', 'iters', 'cell'}
    names = []
    for row in rows:
        names += [k for k in row if k not in keys and k not in names]
    return names


def write_table(rows: List[dict], grid: Grid, args: argparse.Namespace) -> None:
    stem = osp.join(args.work_dir, args.name)
    columns = [key for key, _ in grid] + metric_names(rows, grid) + [
        'pretrain_loss', 's_per_iter', 'iters', 'cell']
    tmp = f'{stem}.csv.tmp{os.getpid()}'
    with open(tmp, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: '' if row.get(k) is None else row.get(k) for k in columns})
    os.replace(tmp, f'{stem}.csv')
    _write_json(f'{stem}.json', dict(
        config=args.config, grid=[dict(key=k, values=v) for k, v in grid], eval=args.eval,
        cfg_options=args.cfg_options, seed=args.seed,
        eval_settings={kind: eval_settings(kind, args) for kind in args.eval}, rows=rows))
    plot(rows, grid, f'{stem}.png')


def plot(rows: List[dict], grid: Grid, path: str) -> None:
    """Metric against the first grid key; one line per metric (and per value of the other
    keys); the pretraining loss and step time in their own panels."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    key, values = grid[0]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    xs = {repr(v): (v if numeric else i) for i, v in enumerate(values)}
    others = [k for k, _ in grid[1:]]
    panels = [('evaluation (%)', metric_names(rows, grid)),
              ('final pretraining loss', ['pretrain_loss']), ('s / iteration', ['s_per_iter'])]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
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
    plt.close(fig)


# ---------------------------------------------------------------- main

def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the pretraining config')
    parser.add_argument('--grid', action='append', required=True, metavar='KEY=V1,V2,...',
                        help='a config key and its values (repeat for a product of grids)')
    parser.add_argument('--eval', nargs='+', choices=EVALS, required=True)
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--name', default='sweep', help='file name of the table and figure')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides common to every cell (the budget)')
    parser.add_argument('--seed', type=int, default=0,
                        help='randomness.seed of every pretraining and evaluation')
    parser.add_argument('--pool', nargs='+', choices=['cls', 'avg'], default=['cls'],
                        help='features for linear_probe and knn: cls token, patch average')
    parser.add_argument('--probe-train-split', default='train')
    parser.add_argument('--probe-test-split', default='test')
    parser.add_argument('--probe-train-images', type=int, help='first N images (default all)')
    parser.add_argument('--probe-test-images', type=int, help='first N images (default all)')
    parser.add_argument('--probe-epochs', type=int, default=30)
    parser.add_argument('--probe-lr', type=float, default=0.1)
    parser.add_argument('--knn-k', type=int, default=20)
    parser.add_argument('--knn-temperature', type=float, default=0.07)
    parser.add_argument('--eval-config', help='finetune / miou: the config tools/train.py runs '
                        'with the pretrained encoder')
    parser.add_argument('--eval-cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--checkpoint-key', help='finetune / miou: the eval config key that '
                        'takes the pretraining checkpoint path (e.g. '
                        'model.decode_head.decoder_checkpoint for DDeP); default: the backbone '
                        "is initialised from the checkpoint's backbone. keys")
    parser.add_argument('--eval-metric', help='finetune / miou: the logged metric to report '
                        '(default top1 / mIoU)')
    args = parser.parse_args(argv)
    if {'finetune', 'miou'} & set(args.eval) and not args.eval_config:
        parser.error('--eval finetune / miou needs --eval-config')
    if args.eval_config and not osp.isfile(args.eval_config):
        parser.error(f'--eval-config {args.eval_config} does not exist')
    if not osp.isfile(args.config):
        parser.error(f'config file {args.config} does not exist')
    return args


def plan(args: argparse.Namespace) -> Tuple[Grid, List[dict]]:
    """The grid and one cell per grid point (identical configs share a cell dict)."""
    try:
        grid = [parse_grid(text) for text in args.grid]
        points = expand_grid(grid)
    except ValueError as err:
        raise SystemExit(str(err))
    base = Config.fromfile(args.config)
    if args.cfg_options:
        base.merge_from_dict(args.cfg_options)
    check_keys(base, [key for key, _ in grid])
    by_hash, cells = {}, []
    for overrides in points:
        cfg = cell_config(base, overrides, args.seed)
        digest = config_hash(cfg)
        if digest not in by_hash:
            name = cell_name(base, overrides, digest)
            by_hash[digest] = dict(cfg=cfg, name=name,
                                   dir=osp.join(args.work_dir, 'cells', name))
        cells.append(dict(by_hash[digest], overrides=overrides))
    return grid, cells


def main(argv=None) -> List[dict]:
    args = parse_args(argv)
    grid, cells = plan(args)
    os.makedirs(args.work_dir, exist_ok=True)
    rank, world, local_rank = dist_env()
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
    unique = list({cell['dir']: cell for cell in cells}.values())
    mine = unique[rank::world]
    print(f'sweep: {len(cells)} grid points, {len(unique)} distinct cells, '
          f'{len(mine)} for process {rank} of {world}', flush=True)
    for i, cell in enumerate(mine):
        print(f'sweep: cell {i + 1}/{len(mine)} {cell["name"]} {cell["overrides"]}', flush=True)
        run_cell(cell, args)
        write_table(collect(cells, grid, args), grid, args)
    rows = collect(cells, grid, args)
    write_table(rows, grid, args)
    print(f'sweep: table {osp.join(args.work_dir, args.name)}.csv / .json / .png', flush=True)
    return rows


if __name__ == '__main__':
    main()
