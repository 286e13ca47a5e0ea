import glob
import os.path as osp

import pytest
import torch
from conftest import REPO
from mmengine.config import Config

from mimlab.registry import MODELS

MAE_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs/mae/*.py')))


def test_every_mae_config_parses_and_builds_on_meta():
    assert len(MAE_CONFIGS) == 10
    for path in MAE_CONFIGS:
        cfg = Config.fromfile(path)
        with torch.device('meta'):
            model = MODELS.build(cfg.model)
        assert model.neck.decoder_pred.out_features == model.backbone.spec.patch_dim, path


@pytest.mark.parametrize('size,patch,depth,width,params,epochs', [
    ('base', 16, 12, 768, 111.9, 800), ('large', 16, 24, 1024, 329.5, 1600),
    ('huge', 14, 32, 1280, 657.2, 300)])
def test_paper_recipe(size, patch, depth, width, params, epochs):
    name = f'mae_vit-{size}-p{patch}_8xb512-coslr-{epochs}e_in1k.py'
    cfg = Config.fromfile(osp.join(REPO, 'configs/mae', name))
    assert cfg.train_cfg.max_epochs == epochs
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert (model.backbone.depth, model.backbone.embed_dim) == (depth, width)
    assert model.backbone.mask_ratio == 0.75 and model.head.norm_pix
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
    cfg = Config.fromfile(osp.join(REPO, 'configs/mae/mae_vit-tiny-p4_1xb256-coslr-6e_fashion-mnist.py'))
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
