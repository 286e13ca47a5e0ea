"""Which parameters get weight decay, on built models with their configs' optimizer settings,
against the references: CAE (official CAE and mmpretrain's ``flat_decay_mult=0``) and MAE
(mmpretrain's ``paramwise_cfg``): decay on the weight matrices (and conv kernels) only; none on
norms, biases, LayerScale gammas, tokens or positions."""
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


def reference_rule(name: str, param: torch.Tensor) -> bool:
    """Official CAE / mmpretrain: decay iff the parameter has more than one dimension and is
    not a token or position."""
    return param.dim() > 1 and not any(t in name for t in TOKENS)


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
    wrong = {n: wd[n] for n, p in trainable.items() if (wd[n] > 0) != reference_rule(n, p)}
    assert wrong == {}
    if 'cae' in config:
        gammas = [n for n in wd if n.endswith('.gamma')]
        assert any(n.startswith('neck.') for n in gammas) and \
            any(n.startswith('decoder.') for n in gammas)
        assert all(wd[n] == 0 for n in gammas)
