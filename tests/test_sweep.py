"""mimlab.experiments.sweep and tools/sweep.py: the grid, the cells, resuming, and the
evaluations."""
import csv
import dataclasses
import json
import os
import re

import pytest
import torch
from conftest import DEMO_CONFIG, TINY_RUN_OPTIONS, import_tool

from mimlab.engine.checkpoint import load_local_checkpoint
from mimlab.engine.errors import ConfigError
from mimlab.experiments.sweep import Cell, expand_grid, parse_grid, plan, run
from mimlab.experiments.sweep.grid import lookup

sweep = import_tool('sweep')


def _sweep(argv):
    """The Sweep that tools/sweep.py makes of ``argv``."""
    return sweep.sweep_from_args(sweep.parse_args(argv))

# The tiny runs of conftest, 2 epochs of 4 iterations; no reconstruction pictures.
BUDGET = [o for o in TINY_RUN_OPTIONS if not o.startswith('custom_hooks')] + [
    'train_cfg.max_epochs=2', 'custom_hooks=[]']
PROBE = ['--probe-train-images', '48', '--probe-test-images', '32', '--probe-epochs', '3']


def test_grid_values_and_product():
    assert parse_grid('model.backbone.mask_ratio=0.5,0.75') == (
        'model.backbone.mask_ratio', [0.5, 0.75])
    assert parse_grid('model.fusion_neck.layers=[0,2],[0, 4, 8]') == (
        'model.fusion_neck.layers', [[0, 2], [0, 4, 8]])
    assert parse_grid("m.mask_mode=random,block,'a,b'") == (
        'm.mask_mode', ['random', 'block', 'a,b'])
    assert parse_grid('model.head.pca_file=None,x.pth,True') == (
        'model.head.pca_file', [None, 'x.pth', True])
    for bad in ('model.neck.depth', 'model.neck.depth=', 'model.neck.depth=1,,2'):
        with pytest.raises(ConfigError, match='--grid'):
            parse_grid(bad)
    cells = expand_grid([('a', [1, 2]), ('b', ['x', 'y', 'z'])])
    assert cells == [dict(a=1, b='x'), dict(a=1, b='y'), dict(a=1, b='z'),
                     dict(a=2, b='x'), dict(a=2, b='y'), dict(a=2, b='z')]


def test_plan_gives_each_cell_its_overrides_and_shares_identical_ones(tmp_path):
    grid_sweep = _sweep([
        DEMO_CONFIG, '--grid', 'model.backbone.mask_ratio=0.5,0.75',
        '--grid', 'model.neck.depth=1,2', '--eval', 'knn', '--work-dir', str(tmp_path),
        '--cfg-options', 'train_cfg.max_epochs=2', '--seed', '3'])
    cells = plan(grid_sweep)
    assert [c.overrides for c in cells] == [
        {'model.backbone.mask_ratio': r, 'model.neck.depth': d}
        for r in (0.5, 0.75) for d in (1, 2)]
    for cell in cells:
        cfg = cell.cfg
        assert cfg.model.backbone.mask_ratio == cell.overrides['model.backbone.mask_ratio']
        assert cfg.model.neck.depth == cell.overrides['model.neck.depth']
        assert cfg.train_cfg.max_epochs == 2 and cfg.randomness.seed == 3
        assert cfg.model.neck.embed_dim == 128  # the rest is the config's
    names = [os.path.basename(c.dir) for c in cells]
    assert names[0].startswith('mask_ratio=0.5-') and names[1].startswith('mask_ratio=0.5_depth=2')
    assert names[2].startswith('base-')  # 0.75 and depth 1 are the config's own values
    assert len(set(names)) == 4

    # the same config reached twice is one cell
    cells = plan(dataclasses.replace(grid_sweep, grid=[parse_grid('model.neck.depth=1,2,1')]))
    assert cells[0].dir == cells[2].dir != cells[1].dir
    with pytest.raises(ConfigError, match="the config has no 'model.nek'"):
        plan(dataclasses.replace(grid_sweep, grid=[parse_grid('model.nek.depth=1,2')]))
    with pytest.raises(SystemExit, match="the config has no 'model.nek'"):  # one line, no trace
        sweep.main([DEMO_CONFIG, '--grid', 'model.nek.depth=1,2', '--eval', 'knn',
                    '--work-dir', str(tmp_path)])


def test_cells_split_across_ranks(tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr(run, 'run_cell', lambda cell, grid_sweep: ran.append(cell.overrides))
    monkeypatch.setattr(run, 'write_table', lambda rows, grid_sweep: None)
    argv = [DEMO_CONFIG, '--grid', 'model.neck.depth=1,2,3,4,5', '--eval', 'knn',
            '--work-dir', str(tmp_path)]
    monkeypatch.setenv('RANK', '1')
    monkeypatch.setenv('WORLD_SIZE', '2')
    sweep.main(argv)
    assert ran == [{'model.neck.depth': 2}, {'model.neck.depth': 4}]
    monkeypatch.delenv('RANK')
    monkeypatch.delenv('WORLD_SIZE')
    monkeypatch.setenv('SLURM_PROCID', '2')
    monkeypatch.setenv('SLURM_NTASKS', '3')
    ran.clear()
    sweep.main(argv)
    assert ran == [{'model.neck.depth': 3}]


def _read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_sweep_runs_evaluates_skips_finished_cells_and_resumes_a_killed_one(tmp_path,
                                                                            monkeypatch):
    work = tmp_path / 'sweep'
    argv = [DEMO_CONFIG, '--grid', 'model.backbone.mask_ratio=0.5,0.75', '--eval',
            'linear_probe', 'knn', '--work-dir', str(work), '--cfg-options', *BUDGET, *PROBE]
    rows = sweep.main(argv)
    assert [r['model.backbone.mask_ratio'] for r in rows] == [0.5, 0.75]
    for row in rows:
        assert 0 <= row['linear_probe_cls'] <= 100 and 0 <= row['knn_cls'] <= 100
        assert row['iters'] == 8 and row['pretrain_loss'] > 0 and row['s_per_iter'] > 0
    table = _read_csv(work / 'sweep.csv')
    assert [t['model.backbone.mask_ratio'] for t in table] == ['0.5', '0.75']
    assert float(table[1]['knn_cls']) == rows[1]['knn_cls']
    assert json.loads((work / 'sweep.json').read_text())['rows'][0]['cell'] == rows[0]['cell']
    assert (work / 'sweep.png').stat().st_size > 10000

    # a finished sweep trains and evaluates nothing again
    calls = []
    real_train = run.train
    monkeypatch.setattr(run, 'train', lambda cfg: calls.append(cfg))
    monkeypatch.setattr(run, 'evaluate_features', lambda *a: calls.append(a))
    assert sweep.main(argv) == rows and calls == []

    # a cell killed in its second epoch: its files as a kill leaves them
    cell = work / 'cells' / rows[0]['cell']
    os.remove(cell / 'pretrain.json')
    for path in cell.glob('eval-*.json'):
        os.remove(path)
    os.remove(cell / 'pretrain' / 'epoch_2.pth')
    (cell / 'pretrain' / 'last_checkpoint').write_text(str(cell / 'pretrain' / 'epoch_1.pth'))
    monkeypatch.undo()
    counted = []
    monkeypatch.setattr(run, 'train', lambda cfg: counted.append(cfg) or real_train(cfg))
    again = sweep.main(argv)
    assert len(counted) == 1 and counted[0].resume and str(cell) in counted[0].work_dir
    newest = sorted(d for d in (cell / 'pretrain').iterdir() if d.is_dir())[-1]
    log = next(newest.glob('*.log')).read_text()
    assert 'resumed epoch: 1, iter: 4' in log and 'Epoch(train) [1]' not in log
    # on the CPU the resumed run ends where the uninterrupted one did: same probe, same kNN
    for before, after in zip(rows, again):
        for key in ('linear_probe_cls', 'knn_cls', 'pretrain_loss', 'iters', 'cell'):
            assert before[key] == after[key], key


TINY_FINETUNE = '''
_base_ = ['{root}/configs/_base_/datasets/fashion_mnist_mae.py',
          '{root}/configs/_base_/default_runtime.py']
model = dict(
    type='ImageClassifier',
    backbone=dict(type='VisionTransformer', arch=dict(embed_dim=32, depth=2, num_heads=2),
                  img_size=28, patch_size=4, out_type='raw'),
    head=dict(type='LinearClsHead', num_classes=10, pool='avg'))
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=1)
train_dataloader = dict(batch_size=16, dataset=dict(indices=32))
val_dataloader = dict(batch_size=16, num_workers=0, sampler=dict(type='DefaultSampler',
                      shuffle=False), dataset=dict(type='ImageDataset', data_root='{data}',
                      split='test', indices=32, pipeline={{{{_base_.test_pipeline}}}}))
val_evaluator = dict(type='Accuracy')
val_cfg = dict()
default_hooks = dict(logger=dict(interval=1))
'''


def test_finetune_evaluation_trains_the_eval_config_from_the_cells_checkpoint(tmp_path):
    config = tmp_path / 'tiny_finetune.py'
    config.write_text(TINY_FINETUNE.format(root=os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), data='/usr/share/datasets/fashion-mnist'))
    work = tmp_path / 'sweep'
    rows = sweep.main([DEMO_CONFIG, '--grid', 'model.neck.depth=1', '--eval', 'finetune',
                       '--eval-config', str(config), '--work-dir', str(work),
                       '--cfg-options', *BUDGET])
    value = rows[0]['finetune']
    assert 0 <= value <= 100 and value == round(value / 3.125) * 3.125  # k / 32 images
    cell = work / 'cells' / rows[0]['cell']
    run = next(d for d in cell.glob('eval-finetune-*') if d.is_dir())
    log = next(run.glob('*/*.log')).read_text()
    checkpoint = json.loads((cell / 'pretrain.json').read_text())['checkpoint']
    # the backbone's load report: every tensor of the encoder came from the cell's checkpoint
    assert re.search(re.escape(f"{checkpoint} (VisionTransformer, prefix 'backbone.'): loaded ")
                     + r'\d+ tensors, 0 missing', log)
    assert load_local_checkpoint(checkpoint)['meta']['iter'] == 8


def test_documented_studies_plan_and_build(tmp_path):
    """Every sweep command of docs/studies.md plans, and each cell's model builds with the
    cell's overrides in place."""
    import shlex

    from mimlab.registry import MODELS
    text = open(os.path.join(os.path.dirname(DEMO_CONFIG), '../../docs/studies.md')).read()
    text = text.replace('\\\n', ' ')  # continued lines
    variables = dict(re.findall(r'^(C|P|F)="?([^"\n]*)"?$', text, re.M))
    commands = re.findall(r'^python tools/sweep.py \$C .*$', text, re.M)
    assert commands  # the pattern still finds the documented commands
    for command in commands:
        for name, value in variables.items():
            command = command.replace(f'${name}', value)
        argv = shlex.split(command)[2:]
        argv[argv.index('--work-dir') + 1] = str(tmp_path)
        for cell in plan(_sweep(argv)):
            cfg = cell.cfg
            with torch.device('meta'):
                model = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
            for key, value in cell.overrides.items():
                if key.startswith('model.'):
                    assert getattr(model, key.split('.')[1]) is not None
                    assert lookup(cfg, key) == (True, value)


def test_checkpoint_key_puts_the_checkpoint_where_the_eval_config_says(tmp_path, monkeypatch):
    """DDeP's pretrained part is the decoder: --checkpoint-key names the eval config's key."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    eval_config = os.path.join(
        root, 'configs/benchmarks/mmseg/unet-ddep_vit-tiny-p4_1xb8-adam-coslr-300i_'
        'ade20k-scenes-64x64.py')
    seen = {}
    monkeypatch.setattr(run, 'run_training', lambda cfg, work_dir, name: seen.update(cfg=cfg))
    monkeypatch.setattr(run, 'read_scalars', lambda work_dir: [dict(mIoU=42.0, step=300)])
    monkeypatch.setattr(run, 'last_metric', lambda scalars, metric: scalars[-1][metric])
    settings = _sweep([DEMO_CONFIG, '--grid', 'model.neck.depth=1', '--eval', 'miou',
                       '--eval-config', eval_config, '--work-dir', str(tmp_path),
                       '--checkpoint-key', 'model.decode_head.decoder_checkpoint']).settings
    assert settings.for_result('miou')['checkpoint_key'] == 'model.decode_head.decoder_checkpoint'
    cell = Cell(overrides={}, cfg=None, name='c', dir=str(tmp_path))
    result = run.evaluate_by_training(cell, 'miou', 'cell/epoch_5.pth', settings)
    assert result == dict(miou=42.0)
    cfg = seen['cfg']
    assert cfg.model.decode_head.decoder_checkpoint == os.path.abspath('cell/epoch_5.pth')
    # the encoder keeps the eval config's own initialisation
    assert cfg.model.backbone.init_cfg.checkpoint == 'work_dirs/demo/epoch_6.pth'
    wrong = dataclasses.replace(settings, checkpoint_key='model.decode_head.no_such_key')
    with pytest.raises(ConfigError, match='no_such_key'):
        run.evaluate_by_training(cell, 'miou', 'x.pth', wrong)


def test_runs_in_one_process_write_their_own_scalars(tmp_path):
    """mmseg's and mmdet's runtimes name their visualizer 'visualizer': without care the second
    run in a process reuses the first's instance and logs into the first run's directory."""
    from conftest import tiny_run_cfg
    cfg = tiny_run_cfg(tmp_path / 'unused', max_epochs=2)
    cfg.merge_from_dict({'custom_hooks': [], 'visualizer.name': 'visualizer'})
    for name in ('first', 'second'):
        run.run_training(cfg, str(tmp_path / name), name)
    for name in ('first', 'second'):
        rows = run.read_scalars(str(tmp_path / name))
        assert len([r for r in rows if 'loss' in r]) == 8  # 2 x 64 images / batch 16
