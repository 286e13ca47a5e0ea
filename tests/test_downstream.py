"""The pretrained encoder in an mmseg config (UperNet, ADE20K recipe) with no conversion step."""
import os.path as osp

import pytest
import torch
from conftest import REPO, tiny_mae_cfg
from mmengine.config import Config

from mimlab.registry import MODELS

UPERNET = osp.join(REPO, 'configs/benchmarks/mmseg/'
                   'upernet_mae-vit-base-p16_8xb2-amp-160k_ade20k-512x512.py')


def test_upernet_config_trains_on_a_mimlab_checkpoint(tmp_path):
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS as SEG_MODELS
    from mmseg.structures import SegDataSample

    pretrain_cfg = tiny_mae_cfg(img_size=16, patch_size=4)
    pretrain_cfg['backbone']['arch']['depth'] = 4
    pretrain = MODELS.build(pretrain_cfg)
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save(dict(meta=dict(epoch=1), state_dict=pretrain.state_dict()), ckpt)

    cfg = Config.fromfile(UPERNET)
    assert cfg.model.backbone.type == 'mimlab.VisionTransformer'
    # The recipe at toy size: the encoder of the tiny checkpoint at 32 px (its 16-px position
    # embedding is resampled), plain BN instead of SyncBN on one CPU process.
    cfg.merge_from_dict({
        'model.backbone.arch': dict(_delete_=True, embed_dim=32, depth=4, num_heads=2),
        'model.backbone.img_size': 32, 'model.backbone.patch_size': 4,
        'model.backbone.out_indices': [0, 1, 2, 3],
        'model.backbone.init_cfg.checkpoint': str(ckpt),
        'model.neck.in_channels': 32, 'model.decode_head.in_channels': [32] * 4,
        'model.decode_head.channels': 16, 'model.decode_head.norm_cfg.type': 'BN',
        'model.auxiliary_head.in_channels': 32, 'model.auxiliary_head.channels': 8,
        'model.auxiliary_head.norm_cfg.type': 'BN', 'model.neck.norm_cfg': dict(type='BN'),
        'model.data_preprocessor.size': (32, 32),
    })
    init_default_scope('mmseg')
    model = SEG_MODELS.build(cfg.model)
    model.init_weights()
    # mmseg's MAE backbone: the checkpoint's encoder less its final norm, plus relative position
    # tables (zeros) and LayerScale gammas (1.0) that the pretraining did not have
    own, loaded = model.backbone.state_dict(), pretrain.backbone.state_dict()
    extra = {k for k in own if 'relative_position_bias_table' in k or k.endswith('.gamma')}
    assert own.keys() == (loaded.keys() - {'norm.weight', 'norm.bias'}) | extra
    assert not any(own[k].any() for k in extra if 'relative' in k)
    assert all(torch.equal(own[k], torch.ones_like(own[k])) for k in extra if 'gamma' in k)
    assert torch.equal(model.backbone.state_dict()['blocks.3.mlp.fc1.weight'],
                       pretrain.backbone.state_dict()['blocks.3.mlp.fc1.weight'])
    assert model.backbone.pos_embed.shape == (1, 1 + 64, 32)

    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    lrs = sorted({round(g['lr'] / 1e-4, 4) for g in wrapper.optimizer.param_groups})
    # 4 blocks -> 6 layer ids: embeddings 0.65^5, blocks 0.65^4 .. 0.65, the rest (neck and
    # heads) 1
    assert lrs == pytest.approx([0.65 ** k for k in (5, 4, 3, 2, 1, 0)], rel=1e-3)

    samples = []
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(img_shape=(32, 32), pad_shape=(32, 32),
                                             ori_shape=(32, 32)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 150, (1, 32, 32)))
        samples.append(sample)
    data = dict(inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)] * 2,
                data_samples=samples)
    log = model.train_step(data, wrapper)
    assert {'decode.loss_ce', 'aux.loss_ce'} <= set(log)
    assert torch.isfinite(log['loss'])
    init_default_scope('mimlab')
