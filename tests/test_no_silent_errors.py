"""A run on one's own folder gives the right numbers or says why not: labels follow class names
across splits, a classifier's head matches the data, typos in any config key are named, another
model's checkpoint is refused, held-out losses do not depend on batching, and the results say
which data they measured. Each test runs the tool (or the library call behind it) on a generated
folder."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import (DEMO_CONFIG, REPO, TINY_RUN_OPTIONS, import_tool, tiny_mae_cfg,
                      tiny_run_cfg)
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from PIL import Image
from torch.utils.data import DataLoader

from mimlab.apis.train import training_config
from mimlab.datasets import ImageDataset
from mimlab.datasets.few_label import FewLabelDataset
from mimlab.engine.config_checks import merge_options
from mimlab.evaluation.metrics import ReconstructionLoss
from mimlab.models.utils.state_dict import CheckpointMismatchError, load_whole_model
from mimlab.registry import MODELS, ConfigError, UnknownArgumentError, check_config_types

CLASSES = ('building', 'food', 'person', 'tree')
PROBE = osp.join(REPO, 'configs/benchmarks/classification',
                 'linear-probe_mae-vit-tiny-p4_1xb256-coslr-10e_fashion-mnist.py')
TINY_MAE = ['model.backbone.arch.embed_dim=32', 'model.backbone.arch.depth=2',
            'model.backbone.arch.num_heads=2', 'model.neck.embed_dim=16', 'model.neck.depth=1',
            'model.neck.num_heads=2']
PIPELINE = [dict(type='LoadImage'), dict(type='ResizeShortEdge', size=16),
            dict(type='CenterCrop', size=16), dict(type='PackInputs')]


def make_folder(root, splits=('train', 'val'), classes=CLASSES, per_class=2, size=32):
    """root/<split>/<class>/*.png, each class its own colour; a split of None: no split
    folders (root/<class>/*.png)."""
    rng = np.random.default_rng(0)
    for split in splits:
        for c, name in enumerate(classes):
            folder = osp.join(root, split, name) if split else osp.join(root, name)
            os.makedirs(folder, exist_ok=True)
            for i in range(per_class):
                pixels = np.full((size, size, 3), 30 + 60 * c, np.int64)
                pixels += rng.integers(-20, 20, pixels.shape)
                Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
                    osp.join(folder, f'{i}.png'))
    return str(root)


def _tool(name):
    return import_tool(name, 'tools/analysis_tools')


# -- labels follow class names -------------------------------------------------------------

@pytest.fixture(scope='module')
def val_lacks_building(tmp_path_factory):
    root = make_folder(tmp_path_factory.mktemp('labels') / 'photos')
    for name in os.listdir(osp.join(root, 'val', 'building')):
        os.remove(osp.join(root, 'val', 'building', name))
    os.rmdir(osp.join(root, 'val', 'building'))
    return root


def test_held_out_labels_follow_the_training_class_names(val_lacks_building):
    val = ImageDataset(val_lacks_building, split='val')
    assert val.metainfo['classes'] == CLASSES
    labels = {osp.basename(osp.dirname(val.get_data_info(i)['img_path'])):
              val.get_data_info(i)['gt_label'] for i in range(len(val))}
    assert labels == {'food': 1, 'person': 2, 'tree': 3}  # folder order would give 0, 1, 2
    train = ImageDataset(val_lacks_building, split='train')
    assert [train.get_data_info(i)['gt_label'] for i in range(len(train))] == \
        [0, 0, 1, 1, 2, 2, 3, 3]


def test_features_knn_and_probe_use_the_training_labels(val_lacks_building, tmp_path):
    feats = str(tmp_path / 'feats.pth')
    _tool('extract_features').main([DEMO_CONFIG, 'none', '--out', feats, '--data-root',
                                    val_lacks_building, '--cfg-options', *TINY_MAE])
    record = torch.load(feats, weights_only=True)
    assert record['classes'] == list(CLASSES)
    assert record['splits']['test']['labels'].tolist() == [1, 1, 2, 2, 3, 3]
    knn = _tool('knn').main([feats, '--k', '1', '--out', str(tmp_path / 'knn.json')])
    # the JSON names the data folder it measured, not only the config
    saved = json.loads((tmp_path / 'knn.json').read_text())
    assert saved['data_root'] == osp.abspath(val_lacks_building) == knn['data_root']
    probe = _tool('linear_probe').main([DEMO_CONFIG, 'none', '--data-root', val_lacks_building,
                                        '--epochs', '1', '--cfg-options', *TINY_MAE])
    assert probe['data_root'] == osp.abspath(val_lacks_building) and probe['num_test'] == 6


def test_a_held_out_class_that_training_lacks_is_named(tmp_path):
    root = make_folder(tmp_path / 'photos')
    make_folder(tmp_path / 'photos', splits=('val',), classes=('zebra',))
    with pytest.raises(SystemExit, match="class folder\\(s\\) zebra, which the training split"):
        _tool('extract_features').main([DEMO_CONFIG, 'none', '--out', str(tmp_path / 'f.pth'),
                                        '--data-root', root, '--cfg-options', *TINY_MAE])


def test_a_folder_without_splits_is_not_a_held_out_measurement(tmp_path):
    root = make_folder(tmp_path / 'classes_only', splits=(None,))
    with pytest.raises(SystemExit, match='would be measured on the training images'):
        _tool('extract_features').main([DEMO_CONFIG, 'none', '--out', str(tmp_path / 'f.pth'),
                                        '--data-root', root, '--cfg-options', *TINY_MAE])


def test_skipped_bad_images_are_left_out_of_the_counts(tmp_path):
    root = make_folder(tmp_path / 'photos')
    with open(osp.join(root, 'val', 'food', 'broken.png'), 'wb') as f:
        f.write(b'not an image')
    summary = _tool('extract_features').main(
        [DEMO_CONFIG, 'none', '--out', str(tmp_path / 'f.pth'), '--data-root', root,
         '--cfg-options', *TINY_MAE, 'train_dataloader.dataset.skip_bad_images=True'])
    assert summary['num_train'] == 8 and summary['num_test'] == 8  # 9 files, 8 images


# -- a classifier's head and normalisation against the data --------------------------------

def test_a_classifier_head_with_another_class_count_is_refused(val_lacks_building, tmp_path,
                                                                 monkeypatch):
    with pytest.raises(ConfigError, match=r'model.head.num_classes=10, but .* has 4 classes '
                       r'\(building, food, person, tree\): set --cfg-options '
                       r'model.head.num_classes=4'):
        training_config(Config.fromfile(PROBE), work_dir=str(tmp_path),
                        data_root=val_lacks_building)
    warnings = []
    monkeypatch.setattr('mimlab.engine.config_checks.print_log',
                        lambda message, **kwargs: warnings.append(message))
    cfg = training_config(Config.fromfile(PROBE), work_dir=str(tmp_path),
                          data_root=val_lacks_building,
                          cfg_options={'model.head.num_classes': 4})
    assert cfg.model.head.num_classes == 4
    assert [w for w in warnings if w.startswith('data_preprocessor.mean=[72.94')]
    # Fashion-MNIST itself (idx archives) is what these statistics are for: no warning
    warnings.clear()
    training_config(Config.fromfile(PROBE), work_dir=str(tmp_path))
    assert not [w for w in warnings if 'Fashion-MNIST statistics' in w]


# -- typos in any config key ---------------------------------------------------------------

@pytest.mark.parametrize('option, message', [
    ('optim_wraper.optimizer.lr=1e-2', "--cfg-options optim_wraper.optimizer.lr: the config "
     "has no top-level key 'optim_wraper'; did you mean optim_wrapper?"),
    ('train_dataloader.batch_sise=8', "train_dataloader.batch_sise: DataLoader has no argument "
     "'batch_sise'; did you mean batch_size or batch_sampler?"),
    ('train_cfg.max_epoch=2', "train_cfg.max_epoch: ResumableEpochBasedTrainLoop has no argument "
     "'max_epoch'; did you mean max_epochs or by_epoch?"),
    ('model.backbone.mask_ration=0.5', "model.backbone.mask_ration: MaskedViT has no argument "
     "'mask_ration'; did you mean mask_ratio or mask_tokens or mlp_ratio?"),
])
def test_a_typo_in_any_key_is_named_before_training(option, message, tmp_path):
    train = import_tool('train')
    with pytest.raises(SystemExit) as exit_:
        train.main([DEMO_CONFIG, '--work-dir', str(tmp_path), '--cfg-options',
                    *TINY_RUN_OPTIONS, 'train_cfg.max_epochs=1', option])
    assert str(exit_.value.code) == message
    assert not os.path.exists(tmp_path / 'epoch_1.pth')


def test_unknown_arguments_come_from_the_signature_not_the_error_text():
    calls = []

    @MODELS.register_module(force=True)
    class TakesOne:
        def __init__(self, size: int = 1) -> None:
            calls.append(size)

    with pytest.raises(UnknownArgumentError, match="did you mean size"):
        MODELS.build(dict(type='TakesOne', sise=2))
    assert not calls
    # a TypeError of the constructor itself is its own, not taken for a config key
    @MODELS.register_module(force=True)
    class RaisesTypeError:
        def __init__(self, size: int = 1) -> None:
            dict(size=size).update(1)

    with pytest.raises(TypeError) as err:
        MODELS.build(dict(type='RaisesTypeError', size=2))
    assert not isinstance(err.value, UnknownArgumentError)
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.val_cfg = dict(fp16=True, max_iters=3)
    with pytest.raises(UnknownArgumentError) as err:
        check_config_types(cfg)
    assert err.value.path == 'val_cfg' and err.value.argument == 'max_iters'


def test_importing_the_optimizer_wrapper_leaves_the_model_zoo_unloaded():
    code = ('import sys; import mimlab.engine.optimizers.autocast_wrapper as w; '
            'from mimlab.registry import ConfigError; assert w.ConfigError is ConfigError; '
            'print(sorted(m for m in sys.modules if m.startswith("mimlab.models")))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=REPO), check=True).stdout
    assert 'mimlab.models.algorithms' not in out and 'mimlab.models.backbones' not in out


def test_merge_options_keeps_keys_the_config_or_runner_knows():
    cfg = merge_options(Config.fromfile(DEMO_CONFIG), {'img_size': 32, 'randomness.seed': 3,
                                                       'optim_wrapper.optimizer.lr': 1e-2})
    assert cfg.img_size == 32 and cfg.randomness.seed == 3
    assert cfg.optim_wrapper.optimizer.lr == 1e-2


# -- another model's checkpoint ------------------------------------------------------------

def test_a_checkpoint_with_keys_the_model_lacks_is_refused(tmp_path):
    model = MODELS.build(tiny_mae_cfg())
    state = dict(model.state_dict(), **{'fusion_neck.weights': torch.zeros(3),
                                        'fusion_neck.projs.0.weight': torch.zeros(2, 2)})
    path = str(tmp_path / 'mff.pth')
    torch.save(dict(state_dict=state, meta=dict(experiment_name='mff_tiny_20261201_000000')),
               path)
    with pytest.raises(CheckpointMismatchError, match=r'2 the model lacks.*fusion_neck.*'
                       r'trained with the config mff_tiny.py'):
        load_whole_model(model, path)
    torch.save(dict(state_dict=model.state_dict()), path)
    assert load_whole_model(model, path).clean


def test_resume_from_another_model_says_the_model_differs(tmp_path):
    mff = Config.fromfile(osp.join(REPO, 'configs/mff/'
                                   'mff_mae_vit-tiny-p4_1xb256-coslr-6e_fashion-mnist.py'))
    path = str(tmp_path / 'epoch_6.pth')
    torch.save(dict(meta=dict(cfg=mff.pretty_text, experiment_name='mff_demo'), state_dict={}),
               path)
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.train_cfg.max_epochs = mff.train_cfg.max_epochs + 2  # the old check blamed this first
    with pytest.raises(ConfigError, match=r'is a checkpoint of another model than this '
                       r"config's \(model.fusion_neck: present in the checkpoint, absent here"):
        training_config(cfg, work_dir=str(tmp_path / 'run'), resume=path)


# -- held-out losses -----------------------------------------------------------------------

def _heldout_losses(model, dataset, batch_size, rank=0, world_size=1):
    # DefaultSampler's order on ``world_size`` processes without shuffling: every N-th image
    sampler = list(range(rank, len(dataset), world_size))
    losses = {}
    for batch in DataLoader(dataset, batch_size=batch_size, sampler=sampler,
                            collate_fn=pseudo_collate):
        inputs = model.data_preprocessor(batch, training=False)['inputs']
        results = model(inputs, batch['data_samples'], mode='predict')
        losses.update({s.sample_idx: r['loss_rec'] for s, r in
                       zip(batch['data_samples'], results)})
    return losses


def test_held_out_loss_does_not_depend_on_batches_or_processes(tmp_path):
    root = make_folder(tmp_path / 'photos', splits=('val',), per_class=3)
    dataset = ImageDataset(root, split='val', pipeline=PIPELINE, test_mode=True)
    torch.manual_seed(0)
    model = MODELS.build(tiny_mae_cfg()).eval()
    whole = _heldout_losses(model, dataset, batch_size=12)
    torch.manual_seed(1)  # the global RNG no longer decides the masks
    assert _heldout_losses(model, dataset, batch_size=5) == whole
    two = {**_heldout_losses(model, dataset, 4, rank=0, world_size=2),
           **_heldout_losses(model, dataset, 4, rank=1, world_size=2)}
    assert two == whole
    metric = ReconstructionLoss()
    metric.process(None, [dict(loss_rec=v) for v in whole.values()])
    assert metric.compute_metrics(metric.results)['num_images'] == 12


def test_dist_test_sh_gives_test_py_s_held_out_loss(tmp_path):
    torch.manual_seed(0)
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=MODELS.build(tiny_run_cfg(tmp_path, 1).model).state_dict()), ckpt)
    options = ['--cfg-options', *TINY_RUN_OPTIONS, 'test_dataloader.dataset.indices=24',
               'test_dataloader.batch_size=8']
    one = import_tool('test').main([DEMO_CONFIG, ckpt, '--work-dir', str(tmp_path / 'one'),
                                    *options])
    env = dict(os.environ, PATH=f'{osp.dirname(sys.executable)}:{os.environ["PATH"]}',
               PORT='29531', OMP_WAIT_POLICY='PASSIVE', OMP_NUM_THREADS='1')
    proc = subprocess.run(['bash', 'tools/dist_test.sh', DEMO_CONFIG, ckpt, '2', '--work-dir',
                           str(tmp_path / 'two'), '--out', str(tmp_path / 'two.json'), *options],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    two = json.loads((tmp_path / 'two.json').read_text())
    assert two['heldout/num_images'] == one['heldout/num_images'] == 24
    assert two['heldout/loss_rec'] == pytest.approx(one['heldout/loss_rec'], rel=1e-5)


# -- few-label split files -----------------------------------------------------------------

def test_few_label_split_files_are_named_after_their_data(tmp_path):
    template = str(tmp_path / 'splits' / '{data}_train_50pct_seed0.json')
    small = make_folder(tmp_path / 'small', splits=('train',), per_class=2)
    large = make_folder(tmp_path / 'large', splits=('train',), per_class=4)
    first = FewLabelDataset(dict(type='ImageDataset', data_root=small), 0.5,
                            split_file=template)
    second = FewLabelDataset(dict(type='ImageDataset', data_root=large), 0.5,
                             split_file=template)
    assert len(first) == 4 and len(second) == 8
    assert first.split_file != second.split_file
    assert osp.basename(first.split_file).startswith('small-')
    assert json.load(open(second.split_file))['data_root'] == osp.abspath(large)
