"""Scale past one process: DDP through dist_train.sh against one process with the same global
batch, gradient accumulation, --auto-scale-lr, and the sharded-tar (WebDataset) dataset."""
import os
import os.path as osp
import re
import subprocess
import sys
from unittest import mock

import numpy as np
import pytest
import torch
from conftest import (DEMO_CONFIG, FASHION_MNIST, REPO, TINY_RUN, TINY_RUN_OPTIONS, import_tool,
                      tiny_run_cfg)
from mmengine.runner import Runner

from mimlab.datasets import ImageDataset, TarShardDataset
from mimlab.datasets import tar_shards
from mimlab.datasets.tar_shards import expand_shards

PY = sys.executable
PACK = [dict(type='LoadImage'), dict(type='PackInputs')]

# Deterministic training: no random augmentation, grid masks (the same patches every step), one
# data order for every rank count, float32 (the demo's bf16 on a CPU with AMX would round the
# differently summed gradients apart): then one process with batch 16 and two with batch 8 each
# take the same optimizer steps.
DETERMINISTIC_CONFIG = f"""
_base_ = '{DEMO_CONFIG}'
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1.5e-3, betas=(0.9, 0.95), weight_decay=0.05))
train_pipeline = [dict(type='LoadImage'), dict(type='PackInputs')]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(backbone=dict(mask_mode='grid'))
randomness = dict(diff_rank_seed=False)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
"""


def _heldout_losses(work_dir) -> list:
    log = next(work_dir.glob('*/*.log')).read_text()
    return [float(v) for v in re.findall(r'pictured held-out images ([\d.]+)', log)]


def _assert_same_weights(a: dict, b: dict) -> None:
    for key in a:
        x, y = a[key], b[key]
        if key.endswith('attn.qkv.bias'):
            # the key bias cancels in the softmax: its true gradient is 0, and Adam scales the
            # float noise that stands in for it up to the lr, differently in every summation
            # order; compare the query and value biases
            third = x.shape[0] // 3
            x, y = torch.cat([x[:third], x[2 * third:]]), torch.cat([y[:third], y[2 * third:]])
        torch.testing.assert_close(x, y, atol=2e-5, rtol=1e-4, msg=key)


FSDP_CONFIG = """
_base_ = './deterministic.py'
runner_type = 'FlexibleRunner'
strategy = dict(type='FSDPStrategy', state_dict_cfg='full',
                model_wrapper=dict(auto_wrap_policy=dict(type='mimlab.vit_block_auto_wrap_policy')))
custom_hooks = []  # the picture hook runs on rank 0 alone, which a sharded model cannot
"""


def _launch(config, work_dir, port, hooks=True) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1', OMP_WAIT_POLICY='PASSIVE',
               PATH=f'{osp.dirname(PY)}:{os.environ["PATH"]}', PORT=str(port))
    options = [o for o in TINY_RUN_OPTIONS if hooks or not o.startswith('custom_hooks')]
    return subprocess.Popen(
        ['bash', 'tools/dist_train.sh', str(config), '2', '--work-dir', str(work_dir),
         '--cfg-options', *options, 'train_cfg.max_epochs=2',
         'train_dataloader.batch_size=8'],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_ddp_and_fsdp_on_two_processes_match_one_process_with_the_same_global_batch(tmp_path):
    config = tmp_path / 'deterministic.py'
    config.write_text(DETERMINISTIC_CONFIG)
    (tmp_path / 'fsdp.py').write_text(FSDP_CONFIG)
    ddp = _launch(config, tmp_path / 'ddp', 29533)
    fsdp = _launch(tmp_path / 'fsdp.py', tmp_path / 'fsdp', 29537, hooks=False)
    # meanwhile the same config in this process, batch 16
    from mmengine.config import Config
    cfg = Config.fromfile(str(config))
    cfg.merge_from_dict(dict(TINY_RUN, **{'train_cfg.max_epochs': 2}))
    cfg.work_dir, cfg.experiment_name = str(tmp_path / 'single'), 'single_process'
    single = Runner.from_cfg(cfg)
    single.train()
    for proc in (ddp, fsdp):
        out = proc.communicate(timeout=300)[0]
        assert proc.returncode == 0, out[-3000:]
    ddp_log = next((tmp_path / 'ddp').glob('*/*.log')).read_text()
    assert 'Distributed training: True' in ddp_log and 'GPU number: 2' in ddp_log
    assert 'Epoch(train) [2][4/4]' in ddp_log  # 64 images, 2 x 8 per step: 4 steps per epoch
    # the held-out loss after steps 4 and 8 and at the end (fixed images and masks)
    single_losses, ddp_losses = _heldout_losses(tmp_path / 'single'), _heldout_losses(
        tmp_path / 'ddp')
    assert len(single_losses) == 3 and len(ddp_losses) == 3
    assert single_losses[0] != single_losses[1]  # it trained between the two
    np.testing.assert_allclose(ddp_losses, single_losses, atol=2e-4)
    weights = single.model.state_dict()
    for run in ('ddp', 'fsdp'):
        ckpt = torch.load(tmp_path / run / 'epoch_2.pth', weights_only=False)['state_dict']
        assert set(ckpt) == set(weights)  # FSDP saves the full, unsharded state dict
        _assert_same_weights(weights, ckpt)
    fsdp_log = next((tmp_path / 'fsdp').glob('*/*.log')).read_text()
    assert 'Epoch(train) [2][4/4]' in fsdp_log


def _train_weights(tmp_path, name, **options):
    cfg = tiny_run_cfg(tmp_path / name, max_epochs=1)
    cfg.merge_from_dict(dict(options, **{'train_dataloader.dataset.pipeline': PACK,
                                         'model.backbone.mask_mode': 'grid',
                                         'param_scheduler': [], 'custom_hooks': []}))
    # float32: the demo's bf16 (on a CPU with AMX) rounds the two summation orders apart
    cfg.optim_wrapper.type = 'OptimWrapper'
    for key in ('dtype', 'native_only'):
        cfg.optim_wrapper.pop(key)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner.model.state_dict(), runner.iter


def test_gradient_accumulation_equals_the_larger_batch(tmp_path):
    big, big_iters = _train_weights(tmp_path, 'big')
    small, small_iters = _train_weights(tmp_path, 'accum', **{
        'train_dataloader.batch_size': 8, 'optim_wrapper.accumulative_counts': 2})
    assert (big_iters, small_iters) == (4, 8)  # 4 optimizer steps either way
    _assert_same_weights(big, small)


def test_auto_scale_lr_follows_the_paper_rule_with_accumulation(tmp_path):
    from mmengine.config import Config

    from mimlab.apis.train import training_config
    cfg = training_config(Config.fromfile(DEMO_CONFIG), auto_scale_lr=True,
                          work_dir=str(tmp_path),
                          cfg_options=dict(TINY_RUN, **{'optim_wrapper.accumulative_counts': 4}))
    cfg.experiment_name = 'auto_scale_lr'
    runner = Runner.from_cfg(cfg)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    runner.scale_lr(runner.optim_wrapper, runner.auto_scale_lr)
    # demo: lr 1.5e-3 for base batch 256; here 1 process x 16 images x 4 accumulated steps
    assert runner.optim_wrapper.param_groups[0]['lr'] == pytest.approx(1.5e-3 * 64 / 256)
    mae = Config.fromfile('configs/mae/mae_vit-base-p16_8xb512-coslr-800e_in1k.py')
    # the paper's rule: lr = base_lr x batch / 256 with base_lr 1.5e-4, at batch 4096
    assert mae.optim_wrapper.optimizer.lr == pytest.approx(1.5e-4 * 4096 / 256)
    assert mae.auto_scale_lr.base_batch_size == 4096


# --- WebDataset-format shards


@pytest.fixture(scope='module')
def shards(tmp_path_factory):
    make_shards = import_tool('make_shards', 'tools/dataset_converters')
    out = tmp_path_factory.mktemp('shards')
    pattern, num = make_shards.write_shards(FASHION_MNIST, str(out), split='test',
                                            shard_size=25, indices=100, prefix='test')
    return pattern, num


def test_make_shards_writes_webdataset_tars(shards):
    pattern, num = shards
    assert num == 100 and pattern.endswith('test-{000000..000003}.tar')
    paths = expand_shards(pattern)
    assert [osp.basename(p) for p in paths] == [f'test-00000{i}.tar' for i in range(4)]
    import tarfile
    with tarfile.open(paths[1]) as tar:
        names = tar.getnames()
    assert names[:4] == ['000000025.png', '000000025.cls', '000000026.png', '000000026.cls']


def test_shards_stream_the_same_images_and_labels_as_the_folder(shards):
    pattern, _ = shards
    stream = TarShardDataset(pattern, pipeline=PACK, shuffle=False)
    assert len(stream) == 100  # counted from the tar headers
    reference = ImageDataset(FASHION_MNIST, split='test', pipeline=PACK, indices=100)
    got = list(stream)
    assert len(got) == 100
    for i, sample in enumerate(got):
        assert torch.equal(sample['inputs'], reference[i]['inputs'])
        assert int(sample['data_samples'].gt_label) == int(reference[i]['data_samples'].gt_label)


def _keys(samples):
    return [s['data_samples'].img_path.split(':')[-1].split('.')[0] for s in samples]


def test_each_rank_and_worker_reads_its_own_shards(shards):
    pattern, _ = shards
    seen = []
    for rank in (0, 1):
        with mock.patch.object(tar_shards, 'get_dist_info', return_value=(rank, 2)):
            ds = TarShardDataset(pattern, pipeline=PACK, num_samples=100, shuffle_buffer=10)
        assert [osp.basename(s) for s in ds.rank_shards] == [
            f'test-00000{rank}.tar', f'test-00000{rank + 2}.tar']
        assert len(ds) == 50
        keys = _keys(ds)
        assert len(keys) == 50 and len(set(keys)) == 50
        seen.append(set(keys))
        assert _keys(ds) != keys  # the next epoch is reshuffled
    assert not seen[0] & seen[1] and len(seen[0] | seen[1]) == 100
    # two data-loader workers of one rank split its shards and its quota
    with mock.patch.object(tar_shards, 'get_dist_info', return_value=(0, 2)):
        ds = TarShardDataset(pattern, pipeline=PACK, num_samples=100)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    keys = _keys(loader)
    assert len(keys) == 50 and set(keys) == seen[0]


def test_short_shards_cycle_to_fill_the_quota_and_bad_setups_are_named(shards, tmp_path):
    pattern, _ = shards
    ds = TarShardDataset(expand_shards(pattern)[:1], pipeline=PACK, num_samples=60)
    keys = _keys(ds)
    assert len(keys) == 60 and len(set(keys)) == 25  # one shard of 25, repeated
    with pytest.raises(FileNotFoundError, match='matches no file'):
        TarShardDataset(str(tmp_path / 'none-*.tar'))
    with mock.patch.object(tar_shards, 'get_dist_info', return_value=(4, 8)):
        with pytest.raises(ValueError, match='cannot feed 8 ranks'):
            TarShardDataset(pattern, num_samples=100)


def test_training_reads_shards_through_the_runner(shards, tmp_path):
    pattern, _ = shards
    cfg = tiny_run_cfg(tmp_path, max_epochs=2)
    cfg.merge_from_dict({'train_dataloader.sampler': None, 'custom_hooks': []})
    cfg.train_dataloader.dataset = dict(type='TarShardDataset', shards=pattern,
                                        pipeline=cfg.train_pipeline, num_samples=64)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 8  # 64 samples / batch 16, two epochs (the stream starts again)
