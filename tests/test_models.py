import math

import numpy as np
import pytest
import torch
from conftest import tiny_mae_cfg

from mimlab.models.backbones import MaskedViT, VisionTransformer
from mimlab.models.heads import PixelReconstructionHead
from mimlab.models.utils import (PatchMask, generate_mask, patchify, sincos_pos_embed_2d,
                                 unpatchify)
from mimlab.registry import MODELS


def test_patchify_layout_and_roundtrip():
    img = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    patches = patchify(img, 4)
    assert patches.shape == (2, 4, 48)
    # patch 1 is the top-right 4x4 block, flattened as (row, col, channel)
    expected = img[0, :, 0:4, 4:8].permute(1, 2, 0).reshape(-1)
    assert torch.equal(patches[0, 1], expected)
    assert torch.equal(unpatchify(patches, 4, (2, 2), 3), img)


def test_sincos_matches_the_formula():
    d, h, w = 8, 2, 3
    emb = sincos_pos_embed_2d(d, (h, w), cls_token=True)[0]
    assert emb.shape == (1 + h * w, d)
    assert torch.equal(emb[0], torch.zeros(d))
    omega = 1.0 / 10000 ** (np.arange(d // 4) / (d // 4))
    # position (row 1, col 2) is patch index 1 * w + 2; the column comes first (MAE's layout)
    row, col = 1, 2
    ref = np.concatenate([np.sin(col * omega), np.cos(col * omega),
                          np.sin(row * omega), np.cos(row * omega)])
    np.testing.assert_allclose(emb[1 + row * w + col].numpy(), ref, rtol=1e-6, atol=1e-7)


def test_pixel_loss_equals_hand_computation():
    spec = MaskedViT(arch=dict(embed_dim=8, depth=1, num_heads=2), img_size=4,
                     patch_size=2, in_chans=1).spec
    head = PixelReconstructionHead(spec, norm_pix=False)
    img = torch.tensor([[[[1., 2., 3., 4.], [5., 6., 7., 8.], [9., 10., 11., 12.],
                          [13., 14., 15., 16.]]]])
    pred = torch.zeros(1, 2, 4)  # the predictions of the 2 removed patches
    mask = PatchMask.from_mask(torch.tensor([[True, False, False, True]]))
    # patch 0 = [1, 2, 5, 6], patch 3 = [11, 12, 15, 16]; MSE vs 0 averaged over the 2 patches
    expected = ((1 + 4 + 25 + 36) / 4 + (121 + 144 + 225 + 256) / 4) / 2
    assert math.isclose(float(head.loss(pred, img, mask)['loss_rec']), expected, rel_tol=1e-6)

    norm_head = PixelReconstructionHead(spec, norm_pix=True, eps=1e-6)
    # with the per-patch normalised target: patch [1, 2, 5, 6] has mean 3.5, unbiased var 5.6667
    p0 = torch.tensor([1., 2., 5., 6.])
    t0 = (p0 - 3.5) / math.sqrt(p0.var().item() + 1e-6)
    loss = norm_head.loss(pred[:, :1], img,
                          PatchMask.from_mask(torch.tensor([[True, False, False, False]])))
    loss = loss['loss_rec']
    assert math.isclose(float(loss), float((t0 ** 2).mean()), rel_tol=1e-5)
    # predictions of the normalised target map back to the true pixels
    back = norm_head.to_pixels(norm_head.target(img), img)
    assert torch.allclose(back, patchify(img, 2), atol=1e-4)


def test_encoder_sees_only_visible_patches():
    enc = MaskedViT(arch=dict(embed_dim=32, depth=2, num_heads=2), img_size=16, patch_size=4,
                    mask_ratio=0.75)
    out = enc.forward_masked(torch.randn(3, 3, 16, 16), hidden_layers=(0,))
    assert out.tokens.shape == (3, 1 + 4, 32)
    assert out.mask.shape == (3, 16) and (out.mask.sum(1) == 12).all()
    assert set(out.hidden_states) == {0}
    # changing a removed patch does not change the encoding; changing a visible one does
    x = torch.randn(1, 3, 16, 16)
    ref = enc.forward_masked(x, generator=torch.Generator().manual_seed(0))
    removed = int(torch.nonzero(ref.mask[0])[0])
    visible = int(ref.patch_mask.ids_keep[0, 0])
    for patch, should_change in ((removed, False), (visible, True)):
        y = x.clone()
        r, c = divmod(patch, 4)
        y[..., r * 4:(r + 1) * 4, c * 4:(c + 1) * 4] += 1.0
        out = enc.forward_masked(y, generator=torch.Generator().manual_seed(0))
        assert (not torch.allclose(out.tokens, ref.tokens)) == should_change


def test_masked_encoder_has_one_return_type_per_entry():
    """forward is the ViT's downstream tuple, encode an Encoding of every patch, forward_masked a
    MaskedEncoding of the visible ones; the same weights give the same unmasked tokens."""
    from mimlab.models.utils import Encoding, MaskedEncoding
    torch.manual_seed(0)
    enc = MaskedViT(arch=dict(embed_dim=32, depth=2, num_heads=2), img_size=16, patch_size=4)
    vit = VisionTransformer(arch=dict(embed_dim=32, depth=2, num_heads=2), img_size=16,
                            patch_size=4, out_type='raw')
    vit.load_state_dict(enc.state_dict())
    x = torch.randn(2, 3, 16, 16)
    out = enc(x)
    assert isinstance(out, tuple) and len(out) == 1 and out[0].shape == (2, 17, 32)
    assert torch.equal(out[0], vit(x)[0])
    encoding = enc.encode(x)
    assert type(encoding) is Encoding and torch.equal(encoding.tokens, out[0])
    masked = enc.forward_masked(x)
    assert type(masked) is MaskedEncoding and masked.tokens.shape == (2, 1 + 4, 32)


def test_decoder_and_head_derive_sizes_from_encoder():
    model = MODELS.build(tiny_mae_cfg(img_size=24, patch_size=6))
    assert model.neck.decoder_pred.out_features == 6 * 6 * 3
    assert model.neck.decoder_pos_embed.shape == (1, 1 + 16, 16)
    assert model.neck.decoder_embed.in_features == 32


def test_training_step_changes_weights_and_lowers_loss():
    torch.manual_seed(0)
    model = MODELS.build(tiny_mae_cfg())
    from mmengine.optim import OptimWrapper
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = dict(inputs=[torch.randint(0, 255, (3, 16, 16), dtype=torch.uint8)] * 8)
    losses = [model.train_step(data, wrapper)['loss'].item() for _ in range(30)]
    after = model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert 'backbone.blocks.0.attn.qkv.weight' in changed
    assert 'neck.mask_token' in changed and 'neck.decoder_pred.weight' in changed
    # fixed sin-cos position embeddings stay fixed
    assert 'backbone.pos_embed' not in changed and 'neck.decoder_pos_embed' not in changed
    assert losses[-1] < 0.8 * losses[0]


def test_plain_vit_loads_backbone_keys_at_another_size(tmp_path):
    model = MODELS.build(tiny_mae_cfg())
    ckpt = tmp_path / 'pretrain.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    vit = VisionTransformer(arch=dict(embed_dim=32, depth=2, num_heads=2), img_size=32,
                            patch_size=4, out_indices=(0, 1),
                            init_cfg=dict(type='Pretrained', checkpoint=str(ckpt),
                                          prefix='backbone.'))
    vit.init_weights()
    src = model.backbone.state_dict()
    dst = vit.state_dict()
    assert set(src) == set(dst)
    assert torch.equal(dst['blocks.1.mlp.fc2.weight'], src['blocks.1.mlp.fc2.weight'])
    assert dst['pos_embed'].shape == (1, 1 + 64, 32)  # 4x4 grid resampled to 8x8
    feats = vit(torch.randn(2, 3, 32, 32))
    assert [f.shape for f in feats] == [(2, 32, 8, 8)] * 2


def test_sizes_that_cannot_work_fail_at_build_time():
    with pytest.raises(ValueError, match='not divisible by patch_size'):
        VisionTransformer(arch='tiny', img_size=30, patch_size=16)
    with pytest.raises(ValueError, match='mask_ratio'):
        MaskedViT(arch='tiny', img_size=32, patch_size=16, mask_ratio=1.0)
    with pytest.raises(IndexError, match='out_indices'):
        VisionTransformer(arch=dict(embed_dim=32, depth=2, num_heads=2), img_size=16,
                          patch_size=4, out_indices=(5,))
    with pytest.raises(KeyError, match='arch'):
        VisionTransformer(arch='gigantic')


def test_prediction_and_loss_stay_fp32_under_mixed_precision():
    torch.manual_seed(0)
    model = MODELS.build(tiny_mae_cfg())
    images = torch.randn(2, 3, 16, 16)
    seen = {}
    model.neck.decoder_blocks[-1].mlp.fc2.register_forward_hook(
        lambda module, args, out: seen.update(mlp=out.dtype))
    model.neck.register_forward_hook(lambda module, args, out: seen.update(pred=out.dtype))
    torch.manual_seed(1)
    full = model.loss(images)['loss_rec'].detach()
    torch.manual_seed(1)  # the same mask
    with torch.autocast('cpu', dtype=torch.bfloat16):
        mixed = model.loss(images)['loss_rec'].detach()
    assert seen == dict(mlp=torch.bfloat16, pred=torch.float32)  # autocast did act upstream
    assert mixed.dtype == torch.float32
    assert abs(float(mixed) - float(full)) < 0.02 * float(full)


def test_tensor_mode_encodes_the_whole_image():
    """Feature extraction (mode='tensor') sees every patch, the same on every call."""
    model = MODELS.build(tiny_mae_cfg()).eval()
    x = torch.randn(2, 3, 16, 16)
    first, second = model(x, mode='tensor'), model(x, mode='tensor')
    assert not hasattr(first, 'patch_mask')  # an Encoding: every patch, no mask
    assert first.tokens.shape == (2, 1 + model.backbone.spec.tokens.num_patches, 32)
    assert torch.equal(first.tokens, second.tokens)
    assert torch.equal(first.tokens, model.backbone.encode(x).tokens)


def test_mae_loss_uses_a_handed_in_mask_and_sums_as_the_reference():
    torch.manual_seed(0)
    model = MODELS.build(tiny_mae_cfg()).eval()
    x = torch.randn(2, 3, 16, 16)
    patch_mask = generate_mask(2, (4, 4), 0.75, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(2)
    loss = model.loss(x, patch_mask=patch_mask)['loss_rec']
    torch.manual_seed(3)  # another global RNG state: the handed-in mask is still the one used
    assert torch.equal(model.loss(x, patch_mask=patch_mask)['loss_rec'], loss)
    # the reference's form on the same mask: per-patch MSE over all L, (loss * mask).sum() /
    # mask.sum() (facebookresearch/mae forward_loss), bit for bit
    latent = model.backbone.forward_masked(x, patch_mask=patch_mask)
    pred = model.neck(latent.tokens, patch_mask)
    target = model.head.target(x)
    errors = (pred - target).pow(2).mean(dim=-1)
    mask = patch_mask.mask.float()
    assert torch.equal(loss, (errors * mask).sum() / mask.sum())
    other = generate_mask(2, (4, 4), 0.75, generator=torch.Generator().manual_seed(5))
    assert not torch.equal(model.loss(x, patch_mask=other)['loss_rec'], loss)
