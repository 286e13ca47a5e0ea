"""Weights of others into mimlab and back: exact round trips on random weights saved in each
source's layout, and the same outputs as the source model where it can be built here (timm's
ViT for official MAE and timm weights, timm's Beit for CAE's BEiT-style blocks)."""
from functools import partial

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
    import_tool('convert', 'tools/model_converters').main(['mae', str(src),
                                                           str(tmp_path / 'out.pth')])
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
    import_tool('convert', 'tools/model_converters').main(['cae', str(src),
                                                           str(tmp_path / 'out.pth')])
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
    import_tool('convert', 'tools/model_converters').main(['mmpretrain', str(src),
                                                           str(tmp_path / 'out.pth')])
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


# Whole pretraining models: MAE and MFF --------------------------------------------------------
WHOLE = dict(img_size=16, patch=4, dec_dim=16, dec_depth=2, dec_heads=2)


def mimlab_mae(fusion_layers=None):
    from mimlab.registry import MODELS
    cfg = dict(type='MAE',
               backbone=dict(type='MaskedViT', arch=dict(ARCH), img_size=WHOLE['img_size'],
                             patch_size=WHOLE['patch'], mask_ratio=0.75),
               neck=dict(type='MAEPretrainDecoder', embed_dim=WHOLE['dec_dim'],
                         depth=WHOLE['dec_depth'], num_heads=WHOLE['dec_heads']),
               head=dict(type='PixelReconstructionHead', norm_pix=True))
    if fusion_layers is not None:
        cfg.update(type='MFF', fusion_neck=dict(type='MultiLevelFusionNeck', layers=fusion_layers))
    return MODELS.build(cfg).eval()


class OfficialMAE(torch.nn.Module):
    """Official MAE's ``MaskedAutoencoderViT`` (facebookresearch/mae ``models_mae.py``) ported
    for the test: the same attribute names (so its ``state_dict`` has the official checkpoint's
    keys) and the same ``forward_encoder`` / ``forward_decoder`` / ``forward_loss`` steps, with
    ``random_masking``'s noise handed in instead of drawn (``norm_pix_loss=True``)."""

    def __init__(self):
        super().__init__()
        from timm.layers import PatchEmbed
        from timm.models.vision_transformer import Block

        norm = partial(torch.nn.LayerNorm, eps=1e-6)
        p, dd = WHOLE['patch'], WHOLE['dec_dim']
        self.patch_embed = PatchEmbed(WHOLE['img_size'], p, 3, D)
        n = self.patch_embed.num_patches
        self.cls_token = torch.nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = torch.nn.Parameter(torch.zeros(1, n + 1, D), requires_grad=False)
        self.blocks = torch.nn.ModuleList([Block(D, 2, 4.0, qkv_bias=True, norm_layer=norm)
                                           for _ in range(DEPTH)])
        self.norm = norm(D)
        self.decoder_embed = torch.nn.Linear(D, dd)
        self.mask_token = torch.nn.Parameter(torch.zeros(1, 1, dd))
        self.decoder_pos_embed = torch.nn.Parameter(torch.zeros(1, n + 1, dd),
                                                    requires_grad=False)
        self.decoder_blocks = torch.nn.ModuleList([
            Block(dd, WHOLE['dec_heads'], 4.0, qkv_bias=True, norm_layer=norm)
            for _ in range(WHOLE['dec_depth'])])
        self.decoder_norm = norm(dd)
        self.decoder_pred = torch.nn.Linear(dd, p * p * 3)

    def patchify(self, imgs):
        p = WHOLE['patch']
        h = w = imgs.shape[2] // p
        x = imgs.reshape(imgs.shape[0], 3, h, p, w, p)
        return torch.einsum('nchpwq->nhwpqc', x).reshape(imgs.shape[0], h * w, p * p * 3)

    def random_masking(self, x, noise, mask_ratio=0.75):
        n, length, dim = x.shape
        len_keep = int(length * (1 - mask_ratio))
        ids_shuffle = torch.argsort(noise, dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :len_keep]
        x_masked = torch.gather(x, 1, ids_keep.unsqueeze(-1).repeat(1, 1, dim))
        mask = torch.ones(n, length)
        mask[:, :len_keep] = 0
        return x_masked, torch.gather(mask, 1, ids_restore), ids_restore

    def forward_encoder(self, x, noise):
        x = self.patch_embed(x) + self.pos_embed[:, 1:, :]
        x, mask, ids_restore = self.random_masking(x, noise)
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(x.shape[0], -1, -1)
        x = torch.cat((cls, x), dim=1)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x), mask, ids_restore

    def forward_decoder(self, x, ids_restore):
        x = self.decoder_embed(x)
        mask_tokens = self.mask_token.repeat(x.shape[0], ids_restore.shape[1] + 1 - x.shape[1], 1)
        x_ = torch.cat([x[:, 1:, :], mask_tokens], dim=1)
        x_ = torch.gather(x_, 1, ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
        x = torch.cat([x[:, :1, :], x_], dim=1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:, :]

    def forward_loss(self, imgs, pred, mask):
        target = self.patchify(imgs)
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1.e-6) ** .5
        loss = ((pred - target) ** 2).mean(dim=-1)
        return (loss * mask).sum() / mask.sum()

    def forward(self, imgs, noise):
        latent, mask, ids_restore = self.forward_encoder(imgs, noise)
        return self.forward_loss(imgs, self.forward_decoder(latent, ids_restore), mask), mask, \
            ids_restore


def patch_mask_of(mask: torch.Tensor, ids_restore: torch.Tensor):
    """A reference's (mask, ids_restore) as mimlab's PatchMask (kept patches in its order)."""
    from mimlab.models.utils import PatchMask
    ids_shuffle = torch.argsort(ids_restore, dim=1)
    num_keep = int((mask[0] == 0).sum())
    return PatchMask(mask=mask.bool(), ids_keep=ids_shuffle[:, :num_keep],
                     ids_restore=ids_restore)


def test_official_mae_whole_model_loss_equals_the_reference(tmp_path):
    from mimlab.apis.converters import mae_model_to_mimlab, mimlab_to_mae_model
    ref = randomised(OfficialMAE())
    official = ref.state_dict()
    assert mae_model_to_mimlab(official)[1] == []  # nothing dropped
    src = tmp_path / 'mae_visualize_vit_tiny.pth'  # the layout of the visualisation checkpoints
    torch.save(dict(model=official), src)
    import_tool('convert', 'tools/model_converters').main(
        ['mae', str(src), str(tmp_path / 'out.pth'), '--whole'])
    ours = mimlab_mae()
    ours.load_state_dict(torch.load(tmp_path / 'out.pth')['state_dict'], strict=True)

    gen = torch.Generator().manual_seed(3)
    imgs = torch.randn(3, 3, 16, 16, generator=gen)
    noise = torch.rand(3, 16, generator=gen)
    with torch.no_grad():
        ref_loss, mask, ids_restore = ref(imgs, noise)
        loss = ours.loss(imgs, patch_mask=patch_mask_of(mask, ids_restore))['loss_rec']
        torch.manual_seed(0)  # the drawn mask must not depend on the tests run before
        drawn = ours.loss(imgs)['loss_rec']  # a mask of its own: another loss
    assert torch.allclose(loss, ref_loss, rtol=1e-5, atol=1e-6), (loss, ref_loss)
    assert not torch.allclose(drawn, ref_loss, rtol=1e-3)
    assert_same(mimlab_to_mae_model(ours.state_dict()), official)  # and back: exact
    with pytest.raises(ValueError, match='official MAE'):
        mimlab_to_mae_model(mimlab_mae(fusion_layers=(0,)).state_dict())


def mmpretrain_model(mff: bool):
    """A tiny mmpretrain 1.2.0 MAE / MFF (MFFViT fusing block 0 and the last block), built by
    mmpretrain's own registry, with random weights."""
    from mmengine.registry import DefaultScope
    import mmpretrain.models  # noqa: F401  (registers mmpretrain's components)
    from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
    backbone = dict(type='MFFViT' if mff else 'MAEViT',
                    arch=dict(embed_dims=D, num_layers=DEPTH, num_heads=2,
                              feedforward_channels=4 * D),
                    img_size=WHOLE['img_size'], patch_size=WHOLE['patch'], mask_ratio=0.75)
    if mff:
        backbone['out_indices'] = [0, DEPTH - 1]
    cfg = dict(type='MFF' if mff else 'MAE', backbone=backbone,
               neck=dict(type='MAEPretrainDecoder', num_patches=16, patch_size=WHOLE['patch'],
                         in_chans=3, embed_dim=D, decoder_embed_dim=WHOLE['dec_dim'],
                         decoder_depth=WHOLE['dec_depth'],
                         decoder_num_heads=WHOLE['dec_heads'], mlp_ratio=4.0),
               head=dict(type='MAEPretrainHead', norm_pix=True, patch_size=WHOLE['patch'],
                         loss=dict(type='PixelReconstructionLoss', criterion='L2')))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return randomised(MMPRETRAIN_MODELS.build(cfg))


@pytest.mark.parametrize('mff', [False, True], ids=['mae', 'mff'])
def test_mmpretrain_whole_model_loss_equals_the_reference(mff):
    from mimlab.apis.converters import (mimlab_to_mmpretrain_mae_model,
                                        mmpretrain_mae_model_to_mimlab)
    ref = mmpretrain_model(mff)
    source = ref.state_dict()
    converted, dropped = mmpretrain_mae_model_to_mimlab(source)
    assert dropped == []
    ours = mimlab_mae(fusion_layers=(0,) if mff else None)
    ours.load_state_dict(converted, strict=True)

    imgs = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.manual_seed(5)
        ref_loss = ref.loss(imgs, None)['loss']
        torch.manual_seed(5)  # the same draw again, to read the reference's mask
        _, mask, ids_restore, *_ = ref.backbone(imgs)
        ours_loss = ours.loss(imgs, patch_mask=patch_mask_of(mask, ids_restore))['loss_rec']
    assert torch.allclose(ours_loss, ref_loss, rtol=1e-5, atol=1e-6), (ours_loss, ref_loss)
    if mff:  # the same fusion weights are logged
        weights = ours.fusion_neck.fusion_weights()
        assert torch.allclose(weights, torch.softmax(source['backbone.proj_weights'].flatten(), 0))
    assert_same(mimlab_to_mmpretrain_mae_model(ours.state_dict()), source)  # and back: exact


def test_whole_mae_and_mff_export_back_to_the_references(tmp_path, capsys):
    """export_backbone.py --whole writes a whole mimlab MAE in official MAE's and mmpretrain's
    layouts and MFF in mmpretrain's: the reference models load them strictly and compute the
    same loss as mimlab on the same mask; MFF to official MAE is refused (no fusion there)."""
    from mimlab.apis.export import export_model
    export = import_tool('export_backbone', 'tools/model_converters')
    imgs = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    for mff in (False, True):
        ours = randomised(mimlab_mae(fusion_layers=(0,) if mff else None))
        ckpt = tmp_path / f'mimlab_{mff}.pth'
        torch.save(dict(state_dict=ours.state_dict()), ckpt)
        out = tmp_path / f'mmpretrain_{mff}.pth'
        export.main([str(ckpt), str(out), '--whole'])  # mmpretrain by default
        assert 'model tensors in the mmpretrain layout' in capsys.readouterr().out
        ref = mmpretrain_model(mff)
        assert ref.load_state_dict(torch.load(out, weights_only=True)['state_dict'], strict=True)
        with torch.no_grad():
            torch.manual_seed(5)
            ref_loss = ref.loss(imgs, None)['loss']
            torch.manual_seed(5)
            _, mask, ids_restore, *_ = ref.backbone(imgs)
            loss = ours.loss(imgs, patch_mask=patch_mask_of(mask, ids_restore))['loss_rec']
        assert torch.allclose(loss, ref_loss, rtol=1e-5, atol=1e-6), (mff, loss, ref_loss)
        if mff:
            with pytest.raises(SystemExit, match='official MAE'):
                export.main([str(ckpt), str(tmp_path / 'x.pth'), '--whole', '--layout', 'mae'])
            continue
        export.main([str(ckpt), str(tmp_path / 'official.pth'), '--whole', '--layout', 'mae'])
        official = OfficialMAE()
        official.load_state_dict(torch.load(tmp_path / 'official.pth',
                                            weights_only=True)['model'], strict=True)
        noise = torch.rand(3, 16, generator=torch.Generator().manual_seed(4))
        with torch.no_grad():
            ref_loss, mask, ids_restore = official.eval()(imgs, noise)
            loss = ours.loss(imgs, patch_mask=patch_mask_of(mask, ids_restore))['loss_rec']
        assert torch.allclose(loss, ref_loss, rtol=1e-5, atol=1e-6)
        with pytest.raises(ValueError, match=r'whole MAE model: it exports to --layout mae or '
                                             r'mmpretrain'):
            export_model(str(ckpt), layout='cae')
    capsys.readouterr()
    with pytest.raises(SystemExit):
        export.main([str(ckpt), str(tmp_path / 'y.pth'), '--layout', 'mae'])  # encoder only
    assert 'not one of' in capsys.readouterr().err
