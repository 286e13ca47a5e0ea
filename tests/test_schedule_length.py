"""The lr schedule follows the run's length, or a run longer than its schedule is refused with the
key to change; a run shorter than an iteration-based warm-up inside an epoch loop ends inside it.
Checked on every config under configs/, through the library call of tools/train.py
(``training_config``'s schedule check), a toy mmengine run that records the lr, and the fine-tune
command itself on a generated folder."""
import glob
import json
import os
import os.path as osp
import re

import numpy as np
import pytest
import torch
import torch.nn as nn
from conftest import REPO
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.runner import Runner
from PIL import Image

from mimlab.engine.errors import ConfigError
from mimlab.engine.schedule import fit_schedule
from test_own_data import run

DEMO_DOWNSTREAM = [
    'configs/benchmarks/mmseg/upernet_mae-vit-tiny-p4_1xb8-600it_garments-64x64.py',
    'configs/benchmarks/mmseg/upernet_mae-vit-tiny-p4_1xb8-300it_ade20k-layout-64x64.py',
    'configs/benchmarks/mmdet/mask-rcnn_mae-vit-tiny-p4_1xb4-1000it_garments-64x64.py',
]
FINETUNE = ('configs/benchmarks/classification/'
            'finetune_mae-vit-tiny-p4_1xb256-coslr-5e_fashion-mnist.py')


def all_configs():
    return sorted(osp.relpath(p, REPO) for p in glob.glob(osp.join(REPO, 'configs/**/*.py'),
                                                           recursive=True)
                  if '/_base_/' not in p)


def load(path: str):
    try:
        return Config.fromfile(osp.join(REPO, path))
    except (ImportError, ModuleNotFoundError) as err:  # mmdet/mmseg not installed
        pytest.skip(f'{path}: {err}')


def length_key(cfg):
    train_cfg = cfg.get('train_cfg') or {}
    for unit in ('max_epochs', 'max_iters'):
        if isinstance(train_cfg.get(unit), int):
            return unit, train_cfg[unit]
    return None, None


class _Toy(BaseModel):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return dict(loss=(self.w * inputs.float().mean()) ** 2)


def lrs_of(cfg, tmp_path) -> list:
    """The lr of every iteration of ``cfg``'s schedule, built by a mmengine Runner (which gives a
    scheduler without ``end`` the run's length) for a toy model with the config's optimizer lr
    and iteration count, and stepped as its ParamSchedulerHook steps iteration schedulers."""
    runner = Runner(
        model=_Toy(), work_dir=str(tmp_path), experiment_name=f'lr_{len(os.listdir(tmp_path))}',
        train_dataloader=dict(dataset=[dict(inputs=torch.ones(2))] * 4, batch_size=1,
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=cfg.optim_wrapper.optimizer.lr)),
        param_scheduler=cfg.param_scheduler, train_cfg=dict(cfg.train_cfg, val_interval=10**9),
        default_scope='mmengine', log_level='WARNING')
    assert runner.train_loop.max_iters == cfg.train_cfg.max_iters  # builds the loop
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    schedulers = runner.build_param_scheduler(runner.param_schedulers)
    lrs = []
    for _ in range(runner.train_loop.max_iters):
        lrs.append(runner.optim_wrapper.get_lr()['lr'][0])
        runner.optim_wrapper.optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
    return lrs


def test_demo_downstream_schedule_follows_max_iters(tmp_path):
    """`train_cfg.max_iters=1200` on the 600-iteration UperNet demo: the poly decay runs over the
    1200 iterations (before: it ended at 600 and the rest trained at lr 0.0, silently)."""
    cfg = load(DEMO_DOWNSTREAM[0])
    cfg.merge_from_dict({'train_cfg.max_iters': 1200})
    fit_schedule(cfg)  # the check of tools/train.py: nothing refused
    lrs = lrs_of(Config(dict(optim_wrapper=cfg.optim_wrapper, param_scheduler=cfg.param_scheduler,
                             train_cfg=dict(type='IterBasedTrainLoop', max_iters=1200))),
                 tmp_path)
    assert len(lrs) == 1200
    peak = max(lrs)
    assert peak == pytest.approx(5e-4, rel=0.02)
    # linear decay from iteration 50 to 1200: half-way (iteration 625) the lr is about half
    assert lrs[625] == pytest.approx(peak / 2, rel=0.05)
    assert lrs[900] > 0.2 * peak and 0 < lrs[-2] < 0.01 * peak  # 0.0 only at the end
    for path in DEMO_DOWNSTREAM[1:]:
        other = load(path)
        unit, total = length_key(other)
        other.merge_from_dict({f'train_cfg.{unit}': 2 * total})
        fit_schedule(other)
        assert any('end' not in s for s in other.param_scheduler), path


def test_every_config_follows_its_length_or_refuses_a_longer_run():
    """Every config trains at its own length; at twice its length it either follows (a scheduler
    ends with training) or is refused in one line naming the `param_scheduler.N.end` to set, and
    setting that key makes the run acceptable."""
    refused = {}
    for path in all_configs():
        cfg = load(path)
        unit, total = length_key(cfg)
        if unit is None or not cfg.get('param_scheduler'):
            continue
        fit_schedule(cfg)  # its own length: accepted
        longer = load(path)
        longer.merge_from_dict({f'train_cfg.{unit}': 2 * total})
        try:
            fit_schedule(longer)
            # iteration schedulers in an epoch loop: as tools/train.py fits them once the
            # dataloader is built (any length of an epoch above the warm-ups gives the same)
            fit_schedule(longer, iters_per_epoch=100)
        except ConfigError as err:
            message = str(err)
            assert '\n' not in message and f'train_cfg.{unit}={2 * total}' in message, path
            key, value = re.search(r'--cfg-options (param_scheduler(?:\.\d+)?\.end)=(\d+)',
                                   message).groups()
            refused[path] = message
            fixed = load(path)
            fixed.merge_from_dict({f'train_cfg.{unit}': 2 * total, key: int(value)})
            fit_schedule(fixed)  # the named key is the one to change
            fit_schedule(fixed, iters_per_epoch=100)
    # the 2-epoch Mask R-CNN demo steps its lr at a fixed epoch: refused, not run at a stale lr
    assert 'configs/benchmarks/mmdet/mask-rcnn_mae-vit-tiny-p4_1xb4-lsj-2e_coco-layout-64x64.py' \
        in refused
    assert not set(DEMO_DOWNSTREAM) & set(refused)
    assert not any(p.startswith(('configs/mae/', 'configs/mff/', 'configs/cae/', 'configs/pixmim/'))
                   for p in refused), refused


def test_a_run_longer_than_a_fixed_schedule_is_refused_naming_the_key():
    cfg = load(DEMO_DOWNSTREAM[0])
    cfg.merge_from_dict({'train_cfg.max_iters': 1200, 'param_scheduler.1.end': 600})
    with pytest.raises(ConfigError) as err:
        fit_schedule(cfg)
    assert str(err.value).startswith('train_cfg.max_iters=1200 outlasts the lr schedule: '
                                     'param_scheduler.1 (PolyLR) ends at iteration 600')
    assert '--cfg-options param_scheduler.1.end=1200' in str(err.value)


def make_classes_folder(root, per_class=(2, 1), size=28, classes=10):
    rng = np.random.default_rng(0)
    for split, count in zip(('train', 'val'), per_class):
        for c in range(classes):
            os.makedirs(osp.join(root, split, f'class{c}'))
            for i in range(count):
                pixels = np.clip(20 * c + rng.integers(0, 40, (size, size)), 0, 255)
                Image.fromarray(pixels.astype(np.uint8)).save(
                    osp.join(root, split, f'class{c}', f'{i}.png'))
    return str(root)


def test_finetune_demo_runs_two_short_epochs(tmp_path):
    """The fine-tune demo (a 20-step warm-up, then a cosine, both in iterations) with
    `train_cfg.max_epochs=2` on a folder of 20 images (batch 4: 10 iterations) ends inside the
    warm-up, with one warning (before: `end should be larger than begin, but got begin=20,
    end=10`). Added for the test: the random-init option of the config's header (the demo
    encoder is not trained here), batch 4 and an lr logged every iteration."""
    folder = make_classes_folder(tmp_path / 'photos')
    work = tmp_path / 'work'
    proc = run(f'python tools/train.py {FINETUNE} --data-root {folder} --work-dir {work} '
               '--cfg-options train_cfg.max_epochs=2 model.backbone.init_cfg=None '
               'train_dataloader.batch_size=4 val_dataloader.batch_size=4 '
               'default_hooks.logger.interval=1')
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    warnings = [line for line in out.splitlines() if 'ends inside the warm-up' in line]
    assert len(warnings) == 1, out[-3000:]
    assert 'train_cfg.max_epochs=2 (10 iterations)' in warnings[0]
    assert 'param_scheduler.1 (CosineAnnealingLR, from iteration 20)' in warnings[0]
    assert (work / 'epoch_2.pth').exists()
    log = next(p for p in os.scandir(work) if p.is_dir() and p.name[0].isdigit())
    lrs = [json.loads(line)['lr'] for line in open(osp.join(log.path, 'vis_data', 'scalars.json'))
           if '"lr"' in line]
    assert lrs == sorted(lrs) and lrs[-1] < 1e-3 * 10 / 20  # still rising: inside the warm-up
