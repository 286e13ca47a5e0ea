import torch
from conftest import tiny_mae_cfg

from mimlab.registry import MODELS


def test_unknown_type_names_the_registry():
    import pytest
    with pytest.raises(KeyError, match='MAEE'):
        MODELS.build(dict(type='MAEE'))


def _downstream_build(registry, ckpt):
    return registry.build(dict(
        type='mimlab.VisionTransformer', arch=dict(embed_dim=32, depth=2, num_heads=2),
        img_size=32, patch_size=4, out_indices=(0, 1),
        init_cfg=dict(type='Pretrained', checkpoint=str(ckpt), prefix='backbone.')))


def test_mmseg_and_mmdet_configs_resolve_the_backbone(tmp_path):
    from mmengine.utils import import_modules_from_strings
    import_modules_from_strings(['mimlab'])  # what custom_imports=dict(imports=['mimlab']) does
    from mmdet.registry import MODELS as DET_MODELS
    from mmseg.registry import MODELS as SEG_MODELS

    pretrain = MODELS.build(tiny_mae_cfg())
    # a real runner checkpoint: meta + message hub (HistoryBuffer) + optimizer state
    from mmengine.logging.history_buffer import HistoryBuffer
    buf = HistoryBuffer()
    buf.update(0.5)
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save(dict(meta=dict(epoch=1), state_dict=pretrain.state_dict(),
                    message_hub=dict(log_scalars=dict(loss=buf))), ckpt)
    for registry in (SEG_MODELS, DET_MODELS):
        backbone = _downstream_build(registry, ckpt)
        backbone.init_weights()
        assert torch.equal(backbone.state_dict()['blocks.0.attn.qkv.weight'],
                           pretrain.backbone.state_dict()['blocks.0.attn.qkv.weight'])
        feats = backbone(torch.randn(1, 3, 32, 32))
        assert [tuple(f.shape) for f in feats] == [(1, 32, 8, 8)] * 2


def test_unknown_type_suggests_close_names():
    import pytest
    from mmengine.registry import MODELS as ROOT_MODELS

    from mimlab.registry import HOOKS, TRANSFORMS, UnknownTypeError
    with pytest.raises(UnknownTypeError, match=r"^'MAEE' is not a registered model type: did "
                       r"you mean 'MAE'\?$"):
        MODELS.build(dict(type='MAEE'))
    with pytest.raises(KeyError, match="did you mean 'LoadImage'"):
        TRANSFORMS.build(dict(type='loadimg'))  # case does not matter
    with pytest.raises(KeyError, match="did you mean 'NonFiniteGuardHook'"):
        HOOKS.build(dict(type='NonFiniteGuard'))
    with pytest.raises(KeyError, match="'Qxjw' is not a registered model type; mimlab has "
                       "(.*, )?ImageClassifier, (.*, )?LinearClsHead, MAE, "):
        MODELS.build(dict(type='Qxjw'))
    # a typo one level down, built the way the Runner builds (mmengine's root registry)
    cfg = tiny_mae_cfg()
    cfg['backbone']['type'] = 'MaskedVitt'
    with pytest.raises(KeyError, match="'MaskedVitt' .* did you mean 'MaskedViT'"):
        ROOT_MODELS.build(cfg)
    # lookups that mmengine's scope search relies on are unchanged
    assert MODELS.get('NoSuchModel') is None
    assert ROOT_MODELS.get('mimlab.MAE') is MODELS.get('MAE') is not None


def test_runner_built_entries_are_checked_before_anything_is_built():
    """The Runner builds a config's top-level entries through mmengine's root registries, which
    never call mimlab's ``build``: check_config_types looks each ``type`` up first."""
    import glob
    import os.path as osp

    import pytest
    from conftest import DEMO_CONFIG, REPO
    from mmengine.config import Config

    from mimlab.registry import UnknownTypeError, check_config_types

    # the normal path: every config's types resolve, mmseg's and mmdet's through their scopes
    for path in glob.glob(osp.join(REPO, 'configs/**/*.py'), recursive=True):
        if '/_base_/' not in path:
            check_config_types(Config.fromfile(path))

    typos = {'model.type': ('MAEE', "did you mean 'MAE'"),
             'custom_hooks.0.type': ('ReconstructionHok', "did you mean 'ReconstructionHook'"),
             'default_hooks.logger.type': ('LogerHook', "did you mean 'LoggerHook'"),
             'train_dataloader.dataset.pipeline.0.type': ('LoadImag', "did you mean 'LoadImage'"),
             'train_dataloader.dataset.type': ('ImageDatset', "did you mean 'ImageDataset'"),
             'optim_wrapper.optimizer.type': ('AdamWW', "did you mean 'AdamW'"),
             'param_scheduler.1.type': ('CosineAnnealingLr', "'CosineAnnealingLR'")}
    for key, (typo, suggestion) in typos.items():
        cfg = Config.fromfile(DEMO_CONFIG)
        cfg.merge_from_dict({key: typo}, allow_list_keys=True)
        with pytest.raises(UnknownTypeError, match=f"^'{typo}' is not a registered .*"
                           f'{suggestion}'):
            check_config_types(cfg)
