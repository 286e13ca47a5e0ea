"""Leaving the demo: own data and quick runs work as typed, wrong inputs fail early
in one line naming the key, no number is silently wrong. The tools run as subprocesses, the way
a user types them, on a tiny generated ImageNet-style folder (train/ and val/, no test/)."""
import json
import os
import os.path as osp
import re
import shlex
import stat
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import DEMO_CONFIG, REPO, TINY_RUN_OPTIONS
from mmengine.config import Config
from PIL import Image

from mimlab.apis.prepare import prepare_config
from mimlab.engine.config_checks import convert_sync_bn
from mimlab.engine.errors import ConfigError
from mimlab.engine.schedule import fit_schedule

IN1K_CONFIG = 'configs/mae/mae_vit-base-p16_8xb512-coslr-800e_in1k.py'
# The ImageNet recipe made tiny: ViT-tiny at 32 px (4 patches of 16 px), a 1-block decoder.
TINY_IN1K = ['img_size=32', 'model.backbone.img_size=32', 'model.backbone.arch=tiny',
             'model.neck.embed_dim=32', 'model.neck.depth=1', 'model.neck.num_heads=2',
             'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
             'test_dataloader.batch_size=4', 'test_dataloader.num_workers=0']
CLASSES = ('cat', 'dog')


def documented_commands():
    """The commands of docs/get_started.md's "Your own data" section, continued lines joined."""
    text = open(osp.join(REPO, 'docs/get_started.md')).read()
    section = text[text.index('## Your own data'):text.index('## Multi-GPU')]
    section = section.replace('\\\n', ' ')
    return [re.sub(' +', ' ', line) for line in re.findall(r'^python tools/.*$', section, re.M)]


def as_typed(command: str, folder: str, work: str) -> str:
    return command.replace('/data/my_images', folder).replace('work_dirs/my_mae', work)


def run(command: str, cwd: str = REPO, umask: int = None, env=None):
    """A command line as a user types it ('python ...' runs this interpreter)."""
    argv = shlex.split(command)
    if argv[0] == 'python':
        argv[0] = sys.executable
        argv[1] = osp.join(REPO, argv[1])  # the tool, also when typed from another folder
    environ = dict(os.environ, PYTHONPATH=REPO, **(env or {}))
    return subprocess.run(argv, cwd=cwd, env=environ, capture_output=True, text=True,
                          timeout=300, preexec_fn=(lambda: os.umask(umask)) if umask else None)


def make_folder(root, splits=('train', 'val'), per_class=(6, 3), size=40):
    """An ImageNet-style folder: root/<split>/<class>/*.jpg; each class its own colour."""
    rng = np.random.default_rng(0)
    for split, count in zip(splits, per_class):
        for c, name in enumerate(CLASSES):
            os.makedirs(osp.join(root, split, name))
            for i in range(count):
                pixels = np.full((size, size, 3), 40 + 170 * c, np.uint8)
                pixels = np.clip(pixels + rng.integers(-30, 30, pixels.shape), 0, 255)
                Image.fromarray(pixels.astype(np.uint8)).save(
                    osp.join(root, split, name, f'{i}.jpg'))
    return str(root)


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp('data') / 'my_images')


@pytest.fixture(scope='module')
def smoke(folder, tmp_path_factory):
    """The ImageNet MAE recipe, 1 epoch (its warm-up is 40), num_workers=0, 32-px images, on
    the folder, with umask 027: (work dir, finished process)."""
    work = str(tmp_path_factory.mktemp('smoke'))
    train = documented_commands()[0]
    assert train.startswith(f'python tools/train.py {IN1K_CONFIG} --data-root')
    # the documented smoke run, with a tiny model (later keys of --cfg-options win)
    proc = run(f'{as_typed(train, folder, work)} {" ".join(TINY_IN1K)}', umask=0o027)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work, proc


# 3. A run shorter than the warm-up runs, ending inside it, with one warning.
def test_smoke_run_shorter_than_the_warm_up(smoke):
    work, proc = smoke
    warnings = [line for line in (proc.stdout + proc.stderr).splitlines()
                if 'ends inside the warm-up' in line]
    assert len(warnings) == 1, proc.stdout[-3000:]
    assert 'LinearLR until 40' in warnings[0] and 'CosineAnnealingLR' in warnings[0]
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    # 12 training images, batch 4: 3 iterations, all inside the 40-epoch warm-up
    log = next(p for p in os.scandir(work) if p.is_dir() and p.name[0].isdigit())
    scalars = [json.loads(line) for line in open(osp.join(log.path, 'vis_data', 'scalars.json'))
               if '"lr"' in line]
    lrs = [s['lr'] for s in scalars]
    assert lrs and lrs[-1] < 1.5e-4 * 4096 / 256 * 0.05  # 3 of the 120 warm-up iterations


def test_schedule_phases_follow_max_epochs():
    cfg = Config.fromfile(osp.join(REPO, IN1K_CONFIG))
    cfg.merge_from_dict({'train_cfg.max_epochs': 1})
    fit_schedule(cfg)
    assert [s['type'] for s in cfg.param_scheduler] == ['LinearLR']
    cfg = Config.fromfile(osp.join(REPO, IN1K_CONFIG))
    fit_schedule(cfg)  # 800 epochs: both phases, untouched
    assert [s['type'] for s in cfg.param_scheduler] == ['LinearLR', 'CosineAnnealingLR']


# 11. Checkpoints respect the umask.
def test_checkpoints_respect_the_umask(smoke):
    work, _ = smoke
    mode = stat.S_IMODE(os.stat(osp.join(work, 'epoch_1.pth')).st_mode)
    assert mode == 0o640  # 0666 & ~027


# 4. num_workers=0 on the ImageNet configs (persistent_workers=True there): the smoke run above,
# and the option itself.
def test_persistent_workers_dropped_without_workers():
    cfg = Config.fromfile(osp.join(REPO, IN1K_CONFIG))
    assert cfg.train_dataloader.persistent_workers
    cfg.merge_from_dict({'train_dataloader.num_workers': 0})
    prepare_config(cfg, loaders=())
    assert cfg.train_dataloader.persistent_workers is False


# 5. One key for the image size; a data/model mismatch is caught before the first step.
def test_img_size_is_one_key_and_a_mismatch_names_both(folder, tmp_path):
    cfg = Config.fromfile(osp.join(REPO, IN1K_CONFIG))
    cfg.merge_from_dict({'img_size': 112, 'model.backbone.img_size': 112})
    prepare_config(cfg, loaders=())
    assert cfg.train_dataloader.dataset.pipeline[1]['size'] == 112
    assert [s.get('size') for s in cfg.test_pipeline][1:3] == [128, 112]  # 256/224 kept
    assert [s.get('size') for s in cfg.test_dataloader.dataset.pipeline][1:3] == [128, 112]
    proc = run(f'python tools/train.py {IN1K_CONFIG} --data-root {folder} --work-dir {tmp_path} '
               f'--cfg-options img_size=112')
    assert proc.returncode == 1 and not (tmp_path / 'epoch_1.pth').exists()
    message = proc.stderr.strip()
    assert '\n' not in message and 'img_size=112' in message
    assert 'model.backbone.img_size=224' in message


# 6. One flag points train, val and test at the folder; messages name the full key path.
def test_test_py_on_own_data_and_the_key_path(smoke, folder):
    work, _ = smoke
    ckpt = osp.join(work, 'epoch_1.pth')
    test = documented_commands()[1]
    assert test.startswith('python tools/test.py')
    proc = run(as_typed(test, folder, work), cwd=work)  # its default work dir lands there
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r'loss_rec: \d', proc.stdout + proc.stderr)
    proc = run(f'python tools/test.py {IN1K_CONFIG} {ckpt} --cfg-options {" ".join(TINY_IN1K)}')
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "test_dataloader.dataset.data_root='data/imagenet' is not a folder: point it at your "
        'data with --data-root DIR (train, val and test data) or --cfg-options '
        'test_dataloader.dataset.data_root=DIR')
    proc = run(f'python tools/test.py {IN1K_CONFIG} {ckpt} --data-root {folder} '
               f'--work-dir {work}/test2 --cfg-options {" ".join(TINY_IN1K)}')
    assert proc.returncode == 0, proc.stderr[-3000:]


# 1. Probe and kNN on an ImageNet-style folder: train/ and val/ are the splits, not classes.
def test_features_and_knn_on_an_imagenet_style_folder(smoke):
    work, _ = smoke
    extract, knn, probe = documented_commands()[2:5]
    proc = run(as_typed(extract, '', work))
    assert proc.returncode == 0, proc.stderr[-3000:]
    feats = osp.join(work, 'feats.pth')
    record = torch.load(feats, weights_only=True)
    assert record['classes'] == list(CLASSES)
    assert record['splits']['train']['labels'].tolist() == [0] * 6 + [1] * 6
    assert record['splits']['test']['labels'].tolist() == [0] * 3 + [1] * 3  # val/
    proc = run(as_typed(knn, '', work) + ' --k 3')
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result['num_train'] == 12 and result['num_test'] == 6
    proc = run(as_typed(probe, '', work) + ' --epochs 5')
    assert proc.returncode == 0 and json.loads(proc.stdout)['num_test'] == 6


def test_a_split_that_does_not_exist_is_named(smoke, tmp_path):
    work, _ = smoke
    config, ckpt = osp.join(work, osp.basename(IN1K_CONFIG)), osp.join(work, 'epoch_1.pth')
    proc = run(f'python tools/analysis_tools/extract_features.py {config} {ckpt} '
               f'--out {tmp_path}/f.pth --splits train holdout')
    assert proc.returncode == 1
    assert "split 'holdout' does not exist" in proc.stderr and 'splits train, val' in proc.stderr
    # a folder with train/ only: 'test' is not read as a folder whose classes are 'train'
    only_train = make_folder(tmp_path / 'only_train', splits=('train',), per_class=(2,))
    proc = run(f'python tools/analysis_tools/extract_features.py {config} {ckpt} '
               f'--out {tmp_path}/f.pth --data-root {only_train}')
    assert proc.returncode == 1 and proc.stderr.strip().endswith(
        'it has the splits train (choose one of them; a folder named like a split is never read '
        'as a class)')


# 2. A checkpoint of another model is refused by test and picture tools and by load_from.
def test_a_checkpoint_of_another_model_is_refused(smoke, folder, tmp_path):
    work, _ = smoke
    ckpt = osp.join(work, 'epoch_1.pth')
    other = TINY_IN1K + ['model.backbone.arch=small']
    proc = run(f'python tools/test.py {IN1K_CONFIG} {ckpt} --data-root {folder} '
               f'--work-dir {tmp_path}/t --cfg-options {" ".join(other)}')
    assert proc.returncode == 1 and 'loss_rec' not in proc.stdout
    message = proc.stderr.strip()
    assert '\n' not in message and f'checkpoint {ckpt} does not fit MAE' in message
    assert '[1, 5, 192] in the checkpoint, [1, 5, 384] in the model' in message
    assert 'trained with the config mae_vit-base-p16_8xb512-coslr-800e_in1k.py' in message
    proc = run(f'python tools/analysis_tools/visualize_reconstruction.py {IN1K_CONFIG} {ckpt} '
               f'--data-root {folder} --split val --out {tmp_path}/r.png '
               f'--cfg-options {" ".join(other)}')
    assert proc.returncode == 1 and 'does not fit MAE' in proc.stderr
    proc = run(f'python tools/train.py {IN1K_CONFIG} --data-root {folder} --work-dir '
               f'{tmp_path}/w --cfg-options train_cfg.max_epochs=1 load_from={ckpt} '
               + ' '.join(other))
    assert proc.returncode == 1 and f'load_from {ckpt} does not fit MAE' in proc.stderr
    assert not (tmp_path / 'w' / 'epoch_1.pth').exists()


def test_a_pretrained_load_that_fits_nothing_is_an_error(tmp_path):
    from mimlab.models.backbones import VisionTransformer
    from mimlab.models.utils.state_dict import CheckpointMismatchError
    small = VisionTransformer(arch=dict(embed_dim=32, depth=2, num_heads=2), img_size=16,
                              patch_size=4)
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in small.state_dict().items()}},
               tmp_path / 'small.pth')
    other = VisionTransformer(arch=dict(embed_dim=48, depth=2, num_heads=2), img_size=16,
                              patch_size=4, init_cfg=dict(type='Pretrained', prefix='backbone.',
                                                          checkpoint=str(tmp_path / 'small.pth')))
    with pytest.raises(CheckpointMismatchError,
                       match=r'checkpoint tensors do not fit VisionTransformer .*in the model'):
        other.init_weights()


# 7. Resuming to train longer is refused with the way to do it.
def test_resume_to_train_longer_is_refused_with_the_way(tmp_path):
    work = tmp_path / 'run'
    tiny = ' '.join(TINY_RUN_OPTIONS)
    proc = run(f'python tools/train.py {DEMO_CONFIG} --work-dir {work} --cfg-options {tiny} '
               'train_cfg.max_epochs=2 train_dataloader.dataset.indices=16 '
               'custom_hooks.0.interval=0')
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = run(f'python tools/train.py {DEMO_CONFIG} --work-dir {work} --resume --cfg-options '
               f'{tiny} train_cfg.max_epochs=3 train_dataloader.dataset.indices=16')
    assert proc.returncode == 1 and not (work / 'epoch_3.pth').exists()
    message = proc.stderr.strip()
    assert 'trained with train_cfg.max_epochs=2, this run asks for 3' in message
    assert f'load_from={work}/epoch_2.pth train_cfg.max_epochs=3 (without --resume)' in message


# 8. SyncBN/MMSyncBN become BN on one process (the full-size Mask R-CNN config), one log line.
def test_sync_bn_becomes_bn_on_one_process():
    pytest.importorskip('mmdet')
    cfg = Config.fromfile(osp.join(
        REPO, 'configs/benchmarks/mmdet/mask-rcnn_mae-vit-base-p16_32xb2-lsj-100e_coco-1024x1024.py'))
    assert 'SyncBN' in str(cfg.model)
    changed = convert_sync_bn(cfg)
    assert changed and 'SyncBN' not in str(cfg.model)
    assert all(path.endswith('norm_cfg') for path in changed)


# 9. dist_test.sh on the CPU; both launchers take paths relative to the caller.
def test_dist_launchers_on_the_cpu_from_another_folder(smoke, tmp_path):
    work, _ = smoke
    os.symlink(osp.join(work, 'epoch_1.pth'), tmp_path / 'ckpt.pth')
    with open(tmp_path / 'my_mae.py', 'w') as f:
        f.write(open(osp.join(work, osp.basename(IN1K_CONFIG))).read())
    proc = run(f'{REPO}/tools/dist_test.sh my_mae.py ckpt.pth 2 --work-dir out',
               cwd=str(tmp_path), env=dict(PORT='29533', PATH=osp.dirname(sys.executable)
                                           + os.pathsep + os.environ['PATH']))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r'loss_rec: \d', proc.stdout + proc.stderr)
    assert (tmp_path / 'out').is_dir()


# 10. An unknown argument in one line: key path, class, closest names; the traceback on demand.
def test_unknown_argument_in_one_line():
    proc = run(f'python tools/train.py {DEMO_CONFIG} --work-dir /tmp/unused --cfg-options '
               'model.backbone.mask_ration=0.5')
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("model.backbone.mask_ration: MaskedViT has no argument "
                                   "'mask_ration'; did you mean mask_ratio or mask_tokens or "
                                   "mlp_ratio?")
    proc = run(f'python tools/train.py {DEMO_CONFIG} --work-dir /tmp/unused --cfg-options '
               'model.backbone.mask_ratio=1.0')
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith('model.backbone: MaskedViT: mask_ratio')
    assert '\n' not in proc.stderr.strip()
    proc = run(f'python tools/train.py {DEMO_CONFIG} --work-dir /tmp/unused --cfg-options '
               'model.backbone.mask_ration=0.5', env=dict(MIMLAB_DEBUG='1'))
    assert proc.returncode == 1 and 'Traceback' in proc.stderr
