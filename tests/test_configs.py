import glob
import os.path as osp

import pytest
import torch
from conftest import DEMO_CONFIG, REPO
from mmengine.config import Config

from mimlab.registry import MODELS

PRETRAIN_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs/[!_]*/*.py')))


def _build_meta(cfg):
    model_cfg = dict(cfg.model, data_preprocessor=cfg.data_preprocessor)
    with torch.device('meta'):
        return MODELS.build(model_cfg)


def test_every_pretraining_config_parses_and_builds_on_meta():
    for path in PRETRAIN_CONFIGS:
        cfg = Config.fromfile(path)
        model = _build_meta(cfg)
        if cfg.model.type == 'ImageClassifier':
            assert model.fusion_neck is not None and model.head.fc.out_features == 10
            continue
        if cfg.model.type != 'MAE':  # checked by their own tests (tests/test_cae.py)
            continue
        # the decoder predicts what the built head takes: pixels, or for the token target
        # features for the head's fc
        out_dim = model.neck.decoder_pred.out_features
        assert out_dim == model.head.in_dim, path
        if cfg.model.head.type == 'DVAETokenHead':
            assert out_dim == model.backbone.embed_dim == model.head.fc.in_features, path
        else:
            assert out_dim == model.backbone.spec.patch_dim, path
        if '/mff/' in path:
            assert model.fusion_neck.layers[-1] < model.backbone.depth - 1, path


def test_mff_and_pixmim_recipes():
    mff_l = _build_meta(Config.fromfile(
        osp.join(REPO, 'configs/mff/mff_pixmim_vit-large-p16_8xb512-coslr-300e_in1k.py')))
    assert mff_l.backbone.depth == 24 and mff_l.fusion_neck.layers == (0, 4, 8, 12, 16)
    assert mff_l.head.pixel_target.low_pass_radius == 40
    cfg = Config.fromfile(osp.join(REPO, 'configs/mff',
                                   'mff_mae_vit-base-p16_8xb512-coslr-800e_in1k.py'))
    mff_b = _build_meta(cfg)
    assert mff_b.fusion_neck.layers == (0, 2, 4, 6, 8)
    assert mff_b.head.pixel_target.low_pass_radius is None
    assert cfg.train_cfg.max_epochs == 800
    pix = Config.fromfile(osp.join(REPO, 'configs/pixmim',
                                   'pixmim_vit-base-p16_8xb512-coslr-300e_in1k.py'))
    assert pix.train_cfg.max_epochs == 300
    crop = pix.train_dataloader.dataset.pipeline[2]
    assert (crop.type, crop.padding, crop.padding_mode) == ('RandomCrop', 4, 'reflect')


@pytest.mark.parametrize('name', ['mff/mff_mae_vit-base-p16_8xb512-coslr-300e_in1k.py',
                                  'mff/mff_mae_vit-large-p16_8xb512-coslr-800e_in1k.py',
                                  'pixmim/pixmim_vit-base-p16_8xb512-coslr-800e_in1k.py'])
def test_mff_mae_uses_the_official_simple_resized_crop(tmp_path, name):
    """Official MFF and PixMIM: Resize(224) (short side, bilinear, PIL's antialiased resize),
    RandomCrop(224, padding=4, reflect), flip, not MAE's RandomResizedCrop(0.2-1): the whole image
    survives, shifted by at most 4 pixels."""
    import mmcv
    import numpy as np
    from mmengine.dataset import Compose
    cfg = Config.fromfile(osp.join(REPO, 'configs', name))
    pipeline = cfg.train_dataloader.dataset.pipeline
    assert [t['type'] for t in pipeline] == ['LoadImage', 'ResizeShortEdge', 'RandomCrop',
                                             'mmcv.RandomFlip', 'PackInputs']
    assert (pipeline[1].size, pipeline[1].interpolation) == (224, 'bilinear')
    assert (pipeline[2].size, pipeline[2].padding, pipeline[2].padding_mode) == (224, 4, 'reflect')
    mae = Config.fromfile(osp.join(REPO, 'configs/mae/mae_vit-base-p16_8xb512-coslr-800e_in1k.py'))
    assert mae.train_dataloader.dataset.pipeline[1].type == 'RandomResizedCrop'  # MAE keeps its own

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)
    mmcv.imwrite(image, str(tmp_path / 'a.png'))
    from PIL import Image  # torchvision's Resize on a PIL image, as the official pipeline
    resized = np.asarray(Image.fromarray(mmcv.imread(str(tmp_path / 'a.png'),
                                                     channel_order='rgb')).resize(
        (224, 224), Image.BILINEAR))
    transform = Compose([dict(t, type='mimlab.' + t['type']) if '.' not in t['type'] else t
                         for t in pipeline])
    np.random.seed(0)
    for _ in range(4):
        out = transform(dict(img_path=str(tmp_path / 'a.png')))['inputs'].permute(1, 2, 0).numpy()
        assert out.shape == (224, 224, 3)
        inner = out[4:-4, 4:-4]
        shifts = [(dy, dx) for dy in range(9) for dx in range(9)
                  if np.array_equal(inner, resized[dy:dy + 216, dx:dx + 216])
                  or np.array_equal(inner, resized[dy:dy + 216, dx:dx + 216][:, ::-1])]
        assert shifts, 'the crop is not the resized image shifted by at most 4 pixels'


@pytest.mark.parametrize('size,patch,depth,width,params,epochs', [
    ('base', 16, 12, 768, 111.9, 800), ('large', 16, 24, 1024, 329.5, 1600),
    ('huge', 14, 32, 1280, 657.2, 300)])
def test_paper_recipe(size, patch, depth, width, params, epochs):
    name = f'mae_vit-{size}-p{patch}_8xb512-coslr-{epochs}e_in1k.py'
    cfg = Config.fromfile(osp.join(REPO, 'configs/mae', name))
    assert cfg.train_cfg.max_epochs == epochs
    model = _build_meta(cfg)
    assert (model.backbone.depth, model.backbone.embed_dim) == (depth, width)
    assert model.backbone.mask_ratio == 0.75 and model.head.pixel_target.norm_pix
    assert len(model.neck.decoder_blocks) == 8 and model.neck.mask_token.shape[-1] == 512
    assert model.neck.decoder_blocks[0].attn.num_heads == 16
    # total parameters, as counted by the MAE paper's models (encoder + decoder), in millions
    n = sum(p.numel() for p in model.parameters()) / 1e6
    assert abs(n - params) < 1.0, n
    assert cfg.train_dataloader.batch_size * 8 == 4096
    opt = cfg.optim_wrapper.optimizer
    assert opt.type == 'AdamW' and opt.betas == (0.9, 0.95) and opt.weight_decay == 0.05
    assert opt.lr == pytest.approx(1.5e-4 * 4096 / 256)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.end) == ('LinearLR', 40)
    assert cosine.type == 'CosineAnnealingLR' and cosine.begin == 40 and 'end' not in cosine
    crop = cfg.train_pipeline[1]
    assert crop.type == 'RandomResizedCrop' and crop.scale == (0.2, 1.0) and crop.size == 224


def test_no_decay_on_norms_biases_tokens_and_positions():
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(DEMO_CONFIG)
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    names = {id(p): n for n, p in model.named_parameters()}
    decay = {names[id(p)] for g in wrapper.optimizer.param_groups if g['weight_decay'] > 0
             for p in g['params']}
    assert 'backbone.blocks.0.attn.qkv.weight' in decay and 'neck.decoder_pred.weight' in decay
    for name in names.values():
        if name.endswith('bias') or 'norm' in name or name.endswith(('cls_token', 'mask_token',
                                                                       'pos_embed')):
            assert name not in decay, name


def test_documented_mff_ablations_build():
    import re
    import shlex

    from mmengine.config import DictAction
    text = open(osp.join(REPO, 'docs/mff.md')).read()
    commands = [c for c in re.findall(r'^python tools/train.py .*$', text, re.M)]
    assert commands  # the pattern still finds the documented commands
    layer_sets = set()
    for command in commands:
        argv = shlex.split(command)
        cfg = Config.fromfile(osp.join(REPO, argv[2]))
        options = {}
        for item in argv[argv.index('--cfg-options') + 1:]:
            key, value = item.split('=', 1)
            options[key] = DictAction._parse_iterable(value)
        cfg.merge_from_dict(options)
        model = _build_meta(cfg)
        layer_sets.add((model.fusion_neck.layers, model.fusion_neck.fusion,
                        type(model.fusion_neck.projections[0]).__name__))
    assert ((0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 'weighted', 'Linear') in layer_sets
    assert ((0, 2, 4, 6, 8), 'attention', 'Linear') in layer_sets
    assert ((0, 2, 4, 6, 8), 'weighted', 'Sequential') in layer_sets
    assert len(layer_sets) == len(commands)  # each documented ablation builds another model
