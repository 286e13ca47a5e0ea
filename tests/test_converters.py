"""Weights of others into mimlab and back: exact round trips on random weights saved in each
source's layout, and the same outputs as the source model where it can be built here (timm's
ViT for official MAE and timm weights, timm's Beit for CAE's BEiT-style blocks)."""
import pytest
import torch
from conftest import import_tool

from mimlab.apis.converters import (cae_to_mimlab, mimlab_to_cae, mimlab_to_mmpretrain,
                                    mimlab_to_timm, mmpretrain_to_mimlab, timm_to_mimlab)
from mimlab.models.backbones import VisionTransformer
from mimlab.models.utils.state_dict import load_pretrained

D, DEPTH = 32, 2
ARCH = dict(embed_dim=D, depth=DEPTH, num_heads=2)


def randomised(model, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return model.eval()


def random_state(shapes: dict, seed=1) -> dict:
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randn(s, generator=gen) for k, s in shapes.items()}


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def load_converted(path, **kwargs) -> VisionTransformer:
    model = VisionTransformer(arch=dict(ARCH), img_size=16, patch_size=4, out_type='raw',
                              pos_embed_type='learned', **kwargs).eval()
    diff = load_pretrained(model, str(path), prefix='backbone.')
    assert diff.clean, diff.report()
    return model


def timm_vit(**kwargs):
    from timm.models.vision_transformer import VisionTransformer as TimmViT
    return randomised(TimmViT(img_size=16, patch_size=4, embed_dim=D, depth=DEPTH, num_heads=2,
                              num_classes=0, global_pool='token', **kwargs))


def test_official_mae_checkpoint_round_trip_and_outputs(tmp_path, capsys):
    ref = timm_vit()
    encoder = ref.state_dict()
    decoder = random_state({'mask_token': (1, 1, 16), 'decoder_embed.weight': (16, D),
                            'decoder_pos_embed': (1, 17, 16),
                            'decoder_blocks.0.norm1.weight': (16,),
                            'decoder_norm.weight': (16,), 'decoder_pred.weight': (48, 16)})
    src = tmp_path / 'mae_pretrain_vit_tiny.pth'
    torch.save(dict(model={**encoder, **decoder}), src)
    import_tool('convert', 'tools/model_converters').main([str(src), str(tmp_path / 'out.pth')],
                                                          source='mae')
    printed = capsys.readouterr().out
    assert f'{len(encoder)} encoder tensors' in printed and 'dropped 6 keys' in printed
    ours = load_converted(tmp_path / 'out.pth')
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(ours(x)[0], ref.forward_features(x), atol=1e-5)
    assert_same(mimlab_to_timm(ours.state_dict()), encoder)  # back to timm: exact


def test_timm_without_class_position(tmp_path):
    ref = timm_vit(no_embed_class=True)
    converted, dropped = timm_to_mimlab(ref.state_dict(), no_embed_class=True)
    assert dropped == [] and converted['pos_embed'].shape == (1, 17, D)
    ours = VisionTransformer(arch=dict(ARCH), img_size=16, patch_size=4, out_type='raw',
                             pos_embed_type='learned').eval()
    ours.load_state_dict(converted, strict=True)
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(ours(x)[0], ref.forward_features(x), atol=1e-5)


def cae_encoder_from_beit():
    """CAE's encoder blocks are BEiT's (qkv weight, q_bias/v_bias, gamma_1/gamma_2): timm's
    Beit has the same parameter names and maths, so it stands in for the official encoder."""
    from timm.models.beit import Beit
    return randomised(Beit(img_size=16, patch_size=4, embed_dim=D, depth=DEPTH, num_heads=2,
                           num_classes=0, global_pool='token', use_abs_pos_emb=True,
                           init_values=0.1))


def test_official_cae_checkpoint_round_trip_and_outputs(tmp_path):
    ref = cae_encoder_from_beit()
    encoder = {f'encoder.{k}': v for k, v in ref.state_dict().items()}
    assert 'encoder.blocks.0.attn.q_bias' in encoder and 'encoder.blocks.1.gamma_2' in encoder
    rest = random_state({'teacher.blocks.0.attn.q_bias': (D,), 'teacher.norm.weight': (D,),
                         'pretext_neck.regressor_blocks.0.cross_attn.q_bias': (D,),
                         'pretext_neck.decoder_blocks.0.gamma_1': (D,),
                         'pretext_neck.head.weight': (8192, D), 'mask_token': (1, 1, D)})
    src = tmp_path / 'cae_base_800e.pth'
    torch.save(dict(model={**encoder, **rest}), src)
    import_tool('convert', 'tools/model_converters').main([str(src), str(tmp_path / 'out.pth')],
                                                          source='cae')
    ours = load_converted(tmp_path / 'out.pth', layer_scale_init_value=0.1)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(ours(x)[0], ref.forward_features(x), atol=1e-5)
    assert_same(mimlab_to_cae(ours.state_dict()), encoder)
    _, dropped = cae_to_mimlab({**encoder, **rest})
    assert sorted(dropped) == sorted(rest)


def mmpretrain_backbone(style: str) -> dict:
    """The backbone keys of mmpretrain's MAEViT / MFFViT / CAEPretrainViT (from their source:
    PatchEmbed.projection, layers.i.{ln1, attn, ln2, ffn.layers.0.0, ffn.layers.1}, ln1 at the
    end; BEiT-style layers with qkv.weight, q_bias, v_bias, gamma_1, gamma_2)."""
    shapes = {'backbone.cls_token': (1, 1, D), 'backbone.pos_embed': (1, 17, D),
              'backbone.patch_embed.projection.weight': (D, 3, 4, 4),
              'backbone.patch_embed.projection.bias': (D,),
              'backbone.ln1.weight': (D,), 'backbone.ln1.bias': (D,)}
    for i in range(DEPTH):
        p = f'backbone.layers.{i}.'
        shapes.update({
            p + 'ln1.weight': (D,), p + 'ln1.bias': (D,), p + 'ln2.weight': (D,),
            p + 'ln2.bias': (D,), p + 'attn.qkv.weight': (3 * D, D),
            p + 'attn.proj.weight': (D, D), p + 'attn.proj.bias': (D,),
            p + 'ffn.layers.0.0.weight': (4 * D, D), p + 'ffn.layers.0.0.bias': (4 * D,),
            p + 'ffn.layers.1.weight': (D, 4 * D), p + 'ffn.layers.1.bias': (D,)})
        if style == 'cae':
            shapes.update({p + 'attn.q_bias': (D,), p + 'attn.v_bias': (D,),
                           p + 'gamma_1': (D,), p + 'gamma_2': (D,)})
        else:
            shapes[p + 'attn.qkv.bias'] = (3 * D,)
    if style == 'mff':
        shapes.update({'backbone.proj_layers.0.weight': (D, D), 'backbone.proj_weights': (2,)})
    return random_state(shapes)


@pytest.mark.parametrize('style', ['mae', 'mff', 'cae'])
def test_mmpretrain_checkpoints_round_trip(tmp_path, style):
    backbone = mmpretrain_backbone(style)
    others = random_state({'neck.decoder_blocks.0.ln1.weight': (16,), 'neck.mask_token': (1, 1, 16),
                           'head.loss.weight': (1,), 'teacher.layers.0.attn.q_bias': (D,),
                           'target_generator.encoder.blocks.input.w': (4, 3, 7, 7)}, seed=2)
    src = tmp_path / f'{style}_mmpretrain.pth'
    torch.save(dict(meta={}, state_dict={**backbone, **others}), src)
    import_tool('mmpretrain_to_mimlab', 'tools/model_converters')
    import_tool('convert', 'tools/model_converters').main([str(src), str(tmp_path / 'out.pth')],
                                                          source='mmpretrain')
    ours = load_converted(tmp_path / 'out.pth',
                          layer_scale_init_value=0.1 if style == 'cae' else 0.0)
    back = mimlab_to_mmpretrain(ours.state_dict(), qv_bias=style == 'cae')
    mff_only = {'backbone.proj_layers.0.weight', 'backbone.proj_weights'}
    assert_same(back, {k: v for k, v in backbone.items() if k not in mff_only})
    _, dropped = mmpretrain_to_mimlab({**backbone, **others})
    assert set(dropped) == set(others) | (mff_only if style == 'mff' else set())
    if style == 'cae':  # q_bias, 0, v_bias
        bias = ours.blocks[0].attn.qkv.bias
        assert torch.equal(bias[:D], backbone['backbone.layers.0.attn.q_bias'])
        assert torch.equal(bias[D:2 * D], torch.zeros(D))


def test_key_bias_is_dropped_without_changing_outputs():
    model = randomised(VisionTransformer(arch=dict(ARCH), img_size=16, patch_size=4,
                                         out_type='raw', layer_scale_init_value=0.1))
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        before = model(x)[0]
        state, _ = cae_to_mimlab(mimlab_to_cae(model.state_dict()))
        model.load_state_dict(state)
        assert torch.allclose(model(x)[0], before, atol=1e-5)
    with pytest.raises(ValueError, match='relative position'):
        mimlab_to_timm({'blocks.0.attn.relative_position_bias_table': torch.zeros(3, 2)})
