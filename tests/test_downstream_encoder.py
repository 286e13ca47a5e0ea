"""The downstream ViT: position embeddings at any size, relative position bias, loading with a
key diff, the algorithm-as-backbone error, exporting the encoder, the multi-scale necks."""
import pytest
import torch
from conftest import tiny_mae_cfg

from mimlab.apis import export_backbone
from mimlab.models.backbones import VisionTransformer
from mimlab.models.necks import MultiDepthFeaturePyramid, SimpleFeaturePyramid
from mimlab.models.utils import sincos_pos_embed_2d
from mimlab.models.utils.rel_pos import infer_grid, num_relative_positions
from mimlab.models.utils.state_dict import group_keys, load_pretrained, load_with_report
from mimlab.registry import MODELS

TINY = dict(embed_dim=32, depth=2, num_heads=2)


def vit(**kwargs) -> VisionTransformer:
    kwargs.setdefault('arch', dict(TINY))
    kwargs.setdefault('patch_size', 4)
    return VisionTransformer(**kwargs)


def randomised(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return model


def test_pos_embed_load_is_exact_at_the_same_size():
    src = randomised(vit(img_size=16, pos_embed_type='learned'))
    dst = vit(img_size=16, pos_embed_type='learned')
    diff = load_with_report(dst, src.state_dict())
    assert diff.clean and len(diff.loaded) == len(src.state_dict())
    assert torch.equal(dst.pos_embed, src.pos_embed)
    assert dst.pos_embed_for(dst.grid_size) is dst.pos_embed


def test_pos_embed_resizes_in_both_directions_with_rows_and_columns_kept_apart():
    # rows carry the values, columns are constant: resizing must keep columns constant and
    # must not swap height and width on a non-square grid
    src = vit(img_size=(16, 32), pos_embed_type='learned')  # grid 4 x 8
    rows = torch.linspace(-1, 1, 4).repeat_interleave(8)
    with torch.no_grad():
        src.pos_embed[0, 1:] = rows[:, None].expand(-1, 32)
        src.pos_embed[0, 0] = 7.0
    up = vit(img_size=(32, 64), pos_embed_type='learned')  # 8 x 16, e.g. 512 x 1024 px at p=64
    load_with_report(up, src.state_dict())
    grid = up.pos_embed[0, 1:].reshape(8, 16, 32)
    assert up.pos_embed.shape == (1, 1 + 128, 32)
    assert torch.equal(up.pos_embed[0, 0], torch.full((32,), 7.0))
    assert torch.allclose(grid, grid[:, :1].expand_as(grid), atol=1e-6)
    assert grid[-1, 0, 0] > grid[0, 0, 0]  # the ramp still runs down the rows

    down = vit(img_size=(8, 16), pos_embed_type='learned')  # 2 x 4, read from the 8 x 16 one
    load_with_report(down, up.state_dict())
    small = down.pos_embed[0, 1:].reshape(2, 4, 32)
    assert torch.allclose(small, small[:, :1].expand_as(small), atol=1e-6)
    assert small[1, 0, 0] > small[0, 0, 0]


def test_stored_grid_is_square_or_of_the_model_aspect_ratio():
    assert infer_grid(196, (32, 64)) == (14, 14)
    assert infer_grid(128, (32, 64)) == (8, 16)
    assert infer_grid(num_relative_positions((8, 16)), (32, 64),
                      lambda h, w: num_relative_positions((h, w))) == (8, 16)
    with pytest.raises(ValueError, match='aspect ratio'):
        infer_grid(7, (32, 64))


def test_forward_on_a_non_square_input_of_another_size():
    model = vit(img_size=16, out_indices=(0, 1), pos_embed_type='sincos').eval()
    x = torch.randn(1, 3, 32, 64)  # grid 8 x 16, e.g. 512 x 1024 px at patch 64
    outs = model(x)
    assert [o.shape for o in outs] == [(1, 32, 8, 16)] * 2
    assert torch.equal(model.pos_embed_for((8, 16)), sincos_pos_embed_2d(32, (8, 16), True))
    learned = vit(img_size=16, pos_embed_type='learned', out_type='raw')
    assert learned(x)[0].shape == (1, 1 + 128, 32)
    with pytest.raises(ValueError, match='not divisible by patch_size=4'):
        model(torch.randn(1, 3, 30, 64))
    # the real case: a 224-px, 16-px-patch encoder on a 512 x 1024 crop (Cityscapes-like)
    big = vit(img_size=224, patch_size=16, pos_embed_type='learned').eval()
    with torch.no_grad():
        assert big(torch.randn(1, 3, 512, 1024))[0].shape == (1, 32, 32, 64)


def test_relative_position_bias_matches_timm_beit():
    from timm.models.beit import Beit

    from mimlab.apis.converters import cae_to_mimlab
    beit = randomised(Beit(img_size=16, patch_size=4, embed_dim=32, depth=2, num_heads=2,
                           num_classes=0, global_pool='token', use_abs_pos_emb=True,
                           use_rel_pos_bias=True, init_values=0.1)).eval()
    ours = vit(img_size=16, pos_embed_type='learned', out_type='raw', use_rel_pos_bias=True,
               layer_scale_init_value=0.1).eval()
    weights, dropped = cae_to_mimlab(beit.state_dict())
    assert set(weights) == set(ours.state_dict())
    ours.load_state_dict(weights, strict=True)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(ours(x)[0], beit.forward_features(x), atol=1e-5)
        # another input size: the tables are resized, the output keeps its shape
        assert ours(torch.randn(1, 3, 24, 32))[0].shape == (1, 1 + 6 * 8, 32)
    with pytest.raises(ValueError, match='masked'):
        ours.run_blocks(torch.randn(1, 5, 32))
    ours.with_cp = True  # activation checkpointing passes the bias on
    ours.train()
    assert torch.allclose(ours(x)[0], beit.forward_features(x), atol=1e-5)


def test_layer_decay_groups_relative_position_tables_with_their_block():
    model = vit(img_size=16, use_rel_pos_bias=True)
    assert model.get_layer_depth('blocks.1.attn.relative_position_bias_table') == (2, 4)


def tiny_checkpoint(tmp_path, **backbone):
    cfg = tiny_mae_cfg()
    cfg['backbone'].update(backbone)
    model = randomised(MODELS.build(cfg))
    path = tmp_path / 'epoch_1.pth'
    torch.save(dict(meta=dict(epoch=1), state_dict=model.state_dict()), path)
    return model, str(path)


def test_pretrained_init_loads_and_reports(tmp_path, monkeypatch):
    import logging

    from mimlab.models.backbones import vision_transformer
    logged = []
    monkeypatch.setattr(vision_transformer, 'print_log',
                        lambda msg, logger=None, level=logging.INFO: logged.append((level, msg)))
    pretrain, ckpt = tiny_checkpoint(tmp_path)
    model = vit(img_size=32, init_cfg=dict(type='Pretrained', checkpoint=ckpt,
                                           prefix='backbone.'))
    model.init_weights()
    assert torch.equal(model.blocks[1].mlp.fc2.weight, pretrain.backbone.blocks[1].mlp.fc2.weight)
    assert model.pos_embed.shape == (1, 1 + 64, 32)  # resampled from the 16-px checkpoint
    n = len(model.state_dict())  # 4 embedding tensors, 12 per block, 2 of the final norm
    assert n == 30
    [(level, message)] = logged
    assert level == logging.INFO
    assert f'loaded {n} tensors, 0 missing, 0 unexpected' in message


def test_partial_load_reports_grouped_keys(tmp_path):
    _, ckpt = tiny_checkpoint(tmp_path)
    # deeper and with layer scale: missing keys, reported grouped
    model = VisionTransformer(arch=dict(embed_dim=32, depth=3, num_heads=2), img_size=16,
                              patch_size=4, layer_scale_init_value=0.1)
    diff = load_pretrained(model, ckpt, prefix='backbone.')
    assert 'blocks.2.attn.qkv.weight' in diff.missing and 'blocks.0.ls1.gamma' in diff.missing
    assert diff.unexpected == [] and len(diff.loaded) == 30
    report = diff.report('ckpt')
    assert 'loaded 30 tensors, 18 missing, 0 unexpected' in report
    assert 'blocks.2.* (14 keys)' in report  # the block the checkpoint lacks, as one line
    assert 'blocks.{0..1}.ls1.gamma (2 keys)' in report
    assert group_keys(['a.1.b', 'a.3.b', 'c']) == ['a.{1,3}.b (2 keys)', 'c']
    decoder = [f'decoder_blocks.{i}.{n}' for i in range(8) for n in 'abcd']
    assert group_keys(decoder + ['mask_token']) == ['decoder_blocks.{0..7}.* (32 keys)',
                                                    'mask_token']


def test_a_tensor_of_another_shape_is_an_error_naming_key_and_shapes(tmp_path):
    """A patch-4 checkpoint into a patch-8 ViT, or a wider MLP: nothing is left silently as
    initialised; the position embedding's grid still resamples on its own."""
    _, ckpt = tiny_checkpoint(tmp_path)  # patch 4, 16 px: a 4 x 4 grid
    init = dict(type='Pretrained', checkpoint=ckpt, prefix='backbone.')
    with pytest.raises(ValueError, match=r'patch_embed\.proj\.weight: \[32, 3, 4, 4\] in the '
                                         r'checkpoint, \[32, 3, 8, 8\] in the model'):
        vit(img_size=32, patch_size=8, init_cfg=init).init_weights()
    narrow = VisionTransformer(arch=dict(embed_dim=32, depth=2, num_heads=2), img_size=16,
                               patch_size=4, mlp_ratio=2.0)
    with pytest.raises(ValueError, match=r'6 checkpoint tensors do not fit .*'
                                         r'blocks\.0\.mlp\.fc1\.weight: \[128, 32\] in the '
                                         r'checkpoint, \[64, 32\] in the model'):
        load_pretrained(narrow, ckpt, prefix='backbone.')
    resampled = vit(img_size=32, init_cfg=init)  # an 8 x 8 grid: resampled, no error
    resampled.init_weights()
    assert resampled.pos_embed.shape == (1, 1 + 64, 32)


def test_cae_encoder_into_a_vit_without_layer_scale_is_an_error(tmp_path):
    """A real (tiny) CAE checkpoint: its encoder has LayerScale gammas. Loading it into a ViT
    without LayerScale would drop them and leave a different network: an error naming
    layer_scale_init_value; with it set, every tensor loads; drop_keys naming exactly them allows
    the lossy load, and a name that drops less (or matches nothing) does not."""
    cae = randomised(MODELS.build(dict(
        type='CAE',
        backbone=dict(type='MaskedViT', arch=dict(embed_dim=32, depth=2, num_heads=2),
                      img_size=16, patch_size=4, mask_ratio=6 / 16, mask_mode='block',
                      block_min_patches=2, layer_scale_init_value=0.1),
        neck=dict(type='LatentContextualRegressor', depth=1, init_values=0.1),
        decoder=dict(type='CAEPretrainDecoder', depth=1, init_values=0.1),
        head=dict(type='CAEPixelHead', norm_pix=False))))
    ckpt = str(tmp_path / 'cae.pth')
    torch.save(dict(state_dict=cae.state_dict()), ckpt)
    init = dict(type='Pretrained', checkpoint=ckpt, prefix='backbone.')
    with pytest.raises(ValueError, match=r'blocks\.\{0\.\.1\}\.ls1\.gamma.*'
                                         r'layer_scale_init_value > 0.*drop_keys'):
        vit(img_size=16, init_cfg=init).init_weights()
    model = vit(img_size=16, layer_scale_init_value=1e-5, init_cfg=init)
    model.init_weights()
    assert torch.equal(model.blocks[1].ls2.gamma, cae.backbone.blocks[1].ls2.gamma)
    lossy = vit(img_size=16, init_cfg=dict(init, drop_keys=['blocks.*.ls?.gamma']))
    lossy.init_weights()
    with pytest.raises(ValueError, match=r'ls2\.gamma'):  # names only ls1: ls2 would vanish
        vit(img_size=16, init_cfg=dict(init, drop_keys=['blocks.*.ls1.gamma'])).init_weights()
    with pytest.raises(ValueError, match=r"drop_keys \['norm\.\*'\] match no"):
        vit(img_size=16, layer_scale_init_value=1e-5,
            init_cfg=dict(init, drop_keys=['norm.*'])).init_weights()
    assert torch.equal(lossy.blocks[0].attn.qkv.weight, cae.backbone.blocks[0].attn.qkv.weight)
    # a deeper checkpoint into a shallower encoder names the depth
    deep = dict(init, checkpoint=tiny_checkpoint(tmp_path, arch=dict(embed_dim=32, depth=3,
                                                                     num_heads=2))[1])
    with pytest.raises(ValueError, match='more blocks: set arch'):
        vit(img_size=16, init_cfg=deep).init_weights()


def test_imagenet_finetune_config_drops_exactly_the_final_norm(tmp_path):
    """The ImageNet fine-tune config drops the pretraining checkpoint's final norm by name: an
    MAE encoder loads (norm.* dropped), a CAE encoder's LayerScale gammas stop the load."""
    import os.path as osp

    from conftest import REPO
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, 'configs/benchmarks/classification',
                                   'finetune_mae-vit-base-p16_8xb128-coslr-100e_in1k.py'))
    assert cfg.model.backbone.init_cfg.drop_keys == ['norm.*']

    def finetune_vit(ckpt):
        backbone = dict(cfg.model.backbone, arch=dict(TINY), img_size=16, patch_size=4)
        backbone['init_cfg'] = dict(backbone['init_cfg'], checkpoint=ckpt)
        return MODELS.build(backbone)

    mae, ckpt = tiny_checkpoint(tmp_path)
    model = finetune_vit(ckpt)
    model.init_weights()
    assert torch.equal(model.blocks[1].attn.qkv.weight, mae.backbone.blocks[1].attn.qkv.weight)
    cae_ckpt = tiny_checkpoint(tmp_path, layer_scale_init_value=0.1)[1]
    with pytest.raises(ValueError, match=r'ls1\.gamma.*layer_scale_init_value'):
        finetune_vit(cae_ckpt).init_weights()


def test_load_that_matches_nothing_says_why(tmp_path):
    _, ckpt = tiny_checkpoint(tmp_path)
    with pytest.raises(ValueError, match=r"prefix 'backbone\.'"):
        load_pretrained(vit(img_size=16), ckpt)
    with pytest.raises(ValueError, match=r"prefix='encoder\.': no key .* starts with it"):
        load_pretrained(vit(img_size=16), ckpt, prefix='encoder.')
    mmpretrain_like = {'backbone.layers.0.ln1.weight': torch.ones(32)}
    with pytest.raises(ValueError, match='convert.py mmpretrain'):
        load_with_report(vit(img_size=16), {k[9:]: v for k, v in mmpretrain_like.items()})


def test_algorithm_as_backbone_is_refused_with_a_way_out():
    """A config that puts a whole mimlab algorithm where an mmseg/mmdet backbone belongs is
    refused before anything is built (``check_config_types``, which training and testing run),
    under either default scope, with the way out."""
    from mmengine.config import Config
    from mimlab.registry import ConfigError, check_config_types
    backbone = tiny_mae_cfg()
    backbone['type'] = 'mimlab.MAE'
    cfg = dict(type='EncoderDecoder', backbone=backbone,
               decode_head=dict(type='FCNHead', in_channels=32, channels=8, num_classes=3))
    with pytest.raises(ConfigError, match=r"whole pretraining algorithm.*VisionTransformer.*"
                                          r"export_backbone"):
        check_config_types(Config(dict(default_scope='mmseg', model=cfg)))
    assert MODELS.build(tiny_mae_cfg()).backbone.depth == 2  # built on its own: fine
    seg = dict(type='mmseg.EncoderDecoder', backbone=tiny_mae_cfg(),
               decode_head=dict(type='mmseg.FCNHead', in_channels=32, channels=8, num_classes=3,
                                loss_decode=dict(type='mmseg.CrossEntropyLoss')))
    with pytest.raises(ConfigError, match=r"whole pretraining algorithm.*VisionTransformer.*"
                                          r"export_backbone"):
        check_config_types(Config(dict(default_scope='mimlab', model=seg)))
    # its encoder in the same place passes
    seg['backbone'] = dict(type='VisionTransformer', arch=dict(embed_dim=32, depth=2, num_heads=2),
                           img_size=16, patch_size=4)
    check_config_types(Config(dict(default_scope='mimlab', model=seg)))


def test_export_backbone_to_timm_and_back(tmp_path):
    import timm
    pretrain, ckpt = tiny_checkpoint(tmp_path)
    exported = export_backbone(ckpt, str(tmp_path / 'timm.pth'), layout='timm')
    ref = timm.models.vision_transformer.VisionTransformer(
        img_size=16, patch_size=4, embed_dim=32, depth=2, num_heads=2, num_classes=0,
        global_pool='token').eval()
    ref.load_state_dict(torch.load(tmp_path / 'timm.pth'), strict=True)
    x = torch.randn(2, 3, 16, 16)
    ours = vit(img_size=16, out_type='raw').eval()
    load_pretrained(ours, ckpt, prefix='backbone.')
    with torch.no_grad():
        assert torch.allclose(ref.forward_features(x), ours(x)[0], atol=1e-5)
    assert exported.keys() == ours.state_dict().keys()

    export_backbone(ckpt, str(tmp_path / 'enc.pth'), layout='mimlab')
    again = vit(img_size=16, init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'enc.pth')))
    again.init_weights()
    assert torch.equal(again.patch_embed.proj.weight, pretrain.backbone.patch_embed.proj.weight)


def test_necks_give_strides_4_to_32_for_dense_heads():
    maps = [torch.randn(2, 32, 4, 6) for _ in range(4)]  # a 64 x 96 input at patch 16
    multi = MultiDepthFeaturePyramid(in_channels=32, norm_cfg=dict(type='BN'))
    assert [tuple(o.shape) for o in multi(maps)] == [
        (2, 32, 16, 24), (2, 32, 8, 12), (2, 32, 4, 6), (2, 32, 2, 3)]
    assert torch.equal(multi(maps)[2], maps[2])  # the identity level
    with pytest.raises(ValueError, match='out_indices'):
        multi(maps[:3])
    simple = SimpleFeaturePyramid(in_channels=32, out_channels=16, num_outs=5)
    assert [tuple(o.shape) for o in simple(maps)] == [
        (2, 16, 16, 24), (2, 16, 8, 12), (2, 16, 4, 6), (2, 16, 2, 3), (2, 16, 1, 2)]


def test_maps_for_roi_heads_are_nchw_so_roi_align_reads_them_right():
    """mmcv's CPU RoIAlign reads a channels-last map as if it were NCHW. The encoder's token
    maps (a transposed view) and channel LayerNorm come out channels-last and convolutions keep
    that layout, so Mask R-CNN's RoI features were scrambled. The encoder, the necks and a neck
    sequence ending in mmdet's FPN hand over NCHW maps, and RoIAlign on them gives the RoI
    features of the same maps made contiguous."""
    from mmcv.ops import roi_align
    encoder = randomised(vit(img_size=32, out_indices=(0, 1), out_type='featmap'))
    maps = encoder(torch.randn(2, 3, 32, 32))
    assert all(m.is_contiguous() for m in maps)
    simple = randomised(SimpleFeaturePyramid(in_channels=32, out_channels=16, num_outs=5))
    multi = MultiDepthFeaturePyramid(in_channels=32, scale_factors=(1, 0.5), norm_cfg=None)
    channels_last = [m.contiguous(memory_format=torch.channels_last) for m in maps]
    assert all(not m.is_contiguous() for m in channels_last)
    for outs in (simple(maps), multi(channels_last)):
        assert all(o.is_contiguous() for o in outs)
    sequence = MODELS.build(dict(type='NeckSequence', necks=[
        dict(type='MultiDepthFeaturePyramid', in_channels=32, scale_factors=(1, 0.5),
             norm_cfg=None),
        dict(type='mmdet.FPN', in_channels=[32, 32], out_channels=16, num_outs=3)]))
    outs = sequence(channels_last)
    assert all(o.is_contiguous() for o in outs)
    rois = torch.tensor([[0, 2., 4., 20., 30.], [1, 8., 0., 31., 14.]])
    level = simple(maps)[0]
    expected = roi_align(level.clone(memory_format=torch.contiguous_format), rois, (7, 7),
                         0.25, 0, 'avg', True)
    assert torch.equal(roi_align(level, rois, (7, 7), 0.25, 0, 'avg', True), expected)
    # why it matters: on the channels-last copy of the same map mmcv's op reads other values
    scrambled = roi_align(level.contiguous(memory_format=torch.channels_last), rois, (7, 7),
                          0.25, 0, 'avg', True)
    assert not torch.allclose(scrambled, expected)


def test_upernet_vit_base_backbone_is_mmsegs_mae_backbone(tmp_path):
    """The UperNet ViT-B config's backbone computes mmseg 1.2.2's ``MAE`` backbone (per-block
    relative position bias, LayerScale, no final norm): the same random weights (tables and
    gammas included) loaded into both give the same feature maps; and an MAE pretraining
    checkpoint loads with the tables at zero and the gammas at 1.0, as mmseg's init."""
    import os.path as osp

    from conftest import REPO
    from mmengine.config import Config
    from mmseg.models.backbones import MAE as MMSegMAE

    from mimlab.apis.converters import mmpretrain_to_mimlab
    cfg = Config.fromfile(osp.join(
        REPO, 'configs/benchmarks/mmseg/upernet_mae-vit-base-p16_8xb2-amp-160k_ade20k-512x512.py'))
    ours_cfg = dict(cfg.model.backbone, arch=dict(TINY), img_size=32, patch_size=8,
                    out_indices=(0, 1), drop_path_rate=0.0, init_cfg=None)
    ours_cfg['type'] = 'VisionTransformer'
    ours = MODELS.build(ours_cfg).eval()
    assert ours.use_rel_pos_bias and not ours.final_norm
    assert torch.equal(ours.blocks[0].ls1.gamma, torch.ones(32))
    mmseg_mae = MMSegMAE(img_size=(32, 32), patch_size=8, embed_dims=32, num_layers=2,
                         num_heads=2, mlp_ratio=4, init_values=1.0, drop_path_rate=0.0,
                         out_indices=[0, 1])
    randomised(mmseg_mae, seed=1).eval()  # (its train() returns None: no chaining)
    source = {f'backbone.{k}': v for k, v in mmseg_mae.state_dict().items()}
    converted, dropped = mmpretrain_to_mimlab(source)  # mmseg's BEiT keys are mmpretrain's
    assert all('relative_position_index' in k for k in dropped)
    assert ours.load_state_dict(converted, strict=True)
    images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for a, b in zip(ours(images), mmseg_mae(images)):
            assert a.shape == b.shape == (2, 32, 4, 4)
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-4), (a - b).abs().max()
    # a mimlab MAE pretraining checkpoint (no tables, no gammas, a final norm) loads as mmseg
    # starts it: tables at zero, gammas at 1.0, the final norm named in drop_keys
    mae, ckpt = tiny_checkpoint(tmp_path)
    pretrained = MODELS.build(dict(ours_cfg, img_size=16, patch_size=4, init_cfg=dict(
        cfg.model.backbone.init_cfg, checkpoint=ckpt)))
    pretrained.init_weights()
    assert torch.equal(pretrained.blocks[1].attn.qkv.weight, mae.backbone.blocks[1].attn.qkv.weight)
    assert not pretrained.blocks[1].attn.relative_position_bias_table.any()
    assert torch.equal(pretrained.blocks[1].ls2.gamma, torch.ones(32))
