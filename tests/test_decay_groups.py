"""Which parameters get weight decay, on built models with their configs' optimizer settings,
against the references. MAE (official MAE's ``param_groups_weight_decay`` and mmpretrain's
``custom_keys``): decay on the weight matrices (and conv kernels) only; none on norms, biases,
tokens or positions. CAE (official CAE's ``get_parameter_groups``, ported below, and mmpretrain's
CAE ``paramwise_cfg``, run here): decay on every parameter of more than one dimension, the cls
and mask tokens included; none on norms, biases or LayerScale gammas."""
import os.path as osp

import pytest
import torch
from conftest import REPO
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from mimlab.registry import MODELS

TOKENS = ('cls_token', 'mask_token', 'pos_embed')


def build(config: str, options: dict):
    """The config's model (small, per ``options``) and {parameter name: weight decay} of its
    trainable parameters, as the config's optimizer wrapper groups them."""
    cfg = Config.fromfile(osp.join(REPO, config))
    cfg.merge_from_dict(options)
    model = MODELS.build(dict(cfg.model, data_preprocessor=cfg.get('data_preprocessor')))
    optim_cfg = cfg.optim_wrapper.copy()
    optim_cfg['optimizer'] = dict(optim_cfg['optimizer'], fused=False)
    wrapper = build_optim_wrapper(model, optim_cfg)
    names = {id(p): n for n, p in model.named_parameters()}
    return model, {names[id(p)]: group['weight_decay']
                   for group in wrapper.optimizer.param_groups for p in group['params']}


def mae_rule(name: str, param: torch.Tensor) -> bool:
    """Official MAE / mmpretrain MAE: decay iff the parameter has more than one dimension and is
    not a token or position."""
    return param.dim() > 1 and not any(t in name for t in TOKENS)


def official_cae_rule(name: str, param: torch.Tensor) -> bool:
    """Official CAE's ``get_parameter_groups`` (furnace/optim_factory.py, BEiT's): no decay for
    ``len(param.shape) == 1 or name.endswith('.bias') or name in skip_list``; the skip list is
    ``model.no_weight_decay()``, which the whole ``ContextAutoencoderViT`` does not define."""
    return not (len(param.shape) == 1 or name.endswith('.bias'))


SMALL = {'model.backbone.arch': dict(_delete_=True, embed_dim=64, depth=2, num_heads=2)}


@pytest.mark.parametrize('config', ['configs/cae/cae_vit-base-p16_8xb256-coslr-300e_in1k.py',
                                    'configs/cae/cae-pixel_vit-tiny-p4_1xb256-coslr-6e_'
                                    'fashion-mnist.py',
                                    'configs/mae/mae_vit-base-p16_8xb512-coslr-800e_in1k.py',
                                    'configs/mae/mae_vit-tiny-p4_1xb256-coslr-6e_fashion-mnist.py'])
def test_decay_only_on_weight_matrices(config):
    options = dict(SMALL)
    if 'cae_vit-base' in config:  # no DALL-E weights here: a small random tokenizer
        options['model.head.tokenizer'] = dict(_delete_=True, type='DALLEEncoder', n_hid=4,
                                               n_blk_per_group=1, vocab_size=16)
    model, wd = build(config, options)
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert wd.keys() == trainable.keys()
    rule = official_cae_rule if 'cae' in config else mae_rule
    wrong = {n: wd[n] for n, p in trainable.items() if (wd[n] > 0) != rule(n, p)}
    assert wrong == {}
    if 'cae' in config:
        assert wd['backbone.cls_token'] > 0 and wd['neck.mask_token'] > 0
        gammas = [n for n in wd if n.endswith('.gamma')]
        assert any(n.startswith('neck.') for n in gammas) and \
            any(n.startswith('decoder.') for n in gammas)
        assert all(wd[n] == 0 for n in gammas)


TINY_CAE = {  # the shapes of test_cae_reference's mmpretrain CAE
    'model.backbone.arch': dict(_delete_=True, embed_dim=32, depth=2, num_heads=2),
    'model.backbone.img_size': 32, 'model.backbone.patch_size': 8,
    'model.backbone.block_min_patches': 2, 'model.backbone.mask_ratio': 6 / 16,
    'model.neck.depth': 2, 'model.decoder.depth': 2,
    'model.head.tokenizer': dict(_delete_=True, type='DALLEEncoder', group_count=4, n_hid=8,
                                 n_blk_per_group=1, vocab_size=16)}


def _decays_as_tensors(model, decays):
    """{name: tensor of the parameter's shape filled with its weight decay}: converted by the
    real name map (q/v biases merged into one qkv bias), every entry must stay one value."""
    params = dict(model.named_parameters())
    return {n: torch.full(params[n].shape, float(wd)) for n, wd in decays.items()}


def test_cae_decay_groups_equal_the_references_parameter_by_parameter():
    """mmpretrain's CAE with mmpretrain's own CAE paramwise_cfg (read from its config file) and
    a model in official CAE's layout with official CAE's rule, each mapped through the converter
    to mimlab's names, give every trainable parameter of mimlab's CAE (the ImageNet config) the
    same weight decay."""
    pytest.importorskip('mmpretrain')
    import mmpretrain
    from test_cae_reference import _mmpretrain_cae

    from mimlab.apis.converters import (cae_model_to_mimlab, mimlab_to_cae_model,
                                        mmpretrain_cae_model_to_mimlab)
    ours, wd = build('configs/cae/cae_vit-base-p16_8xb256-coslr-300e_in1k.py', TINY_CAE)
    ref = _mmpretrain_cae()
    ref_cfg = Config.fromfile(osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'configs', 'cae',
                                       'cae_beit-base-p16_8xb256-amp-coslr-300e_in1k.py'))
    wrapper = build_optim_wrapper(ref, dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
        paramwise_cfg=ref_cfg.optim_wrapper.paramwise_cfg))
    names = {id(p): n for n, p in ref.named_parameters()}
    # the DALL-E tokenizer gets no gradient in either (mimlab freezes it; mmpretrain's is left
    # requires_grad but only runs under no_grad), so it is no part of the comparison
    ref_wd = {names[id(p)]: g['weight_decay'] for g in wrapper.optimizer.param_groups
              for p in g['params']
              if p.requires_grad and not names[id(p)].startswith('target_generator.')}
    from_mmpretrain, _ = mmpretrain_cae_model_to_mimlab(_decays_as_tensors(ref, ref_wd))
    # official CAE: its layout of mimlab's model, its rule on its names; the frozen tensors
    # (alignment encoder, sin-cos positions) are not trained there
    official = {k: v for k, v in mimlab_to_cae_model(ours.state_dict()).items()
                if not (k.startswith('alignment_encoder.') or k.endswith('pos_embed'))}
    official_wd = {k: torch.full(v.shape, 0.05 if official_cae_rule(k, v) else 0.0)
                   for k, v in official.items()}
    from_official, _ = cae_model_to_mimlab(official_wd)
    trainable = {n for n, p in ours.named_parameters() if p.requires_grad}
    assert trainable == set(wd)
    for reference in (from_mmpretrain, from_official):
        assert set(reference) - {'backbone.pos_embed'} == trainable
        wrong = {n: (wd[n], reference[n].unique().tolist()) for n in trainable
                 if not torch.allclose(reference[n], torch.full_like(reference[n], wd[n]))}
        assert wrong == {}
    assert wd['backbone.cls_token'] > 0 and wd['neck.mask_token'] > 0
    assert wd['backbone.blocks.0.ls1.gamma'] == 0 and wd['neck.blocks.1.attn.q.bias'] == 0
