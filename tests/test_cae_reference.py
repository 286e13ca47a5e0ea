"""CAE against its references: mmpretrain 1.2.0's ``CAENeck`` regressor and whole ``CAE`` loss
(run here as the reference), and the whole-model converters (mmpretrain and official CAE, both
ways)."""
import pytest
import torch

from mimlab.apis.converters import (cae_model_to_mimlab, mimlab_to_cae_model,
                                    mimlab_to_mmpretrain_cae, mmpretrain_cae_model_to_mimlab)
from mimlab.models.utils import PatchMask
from mimlab.registry import MODELS

mmpretrain = pytest.importorskip('mmpretrain')

DIM, HEADS, DEPTH, VOCAB = 32, 2, 2, 16
TOKENIZER = dict(type='DALLEEncoder', group_count=4, n_hid=8, n_blk_per_group=1, vocab_size=VOCAB)


def _mmpretrain_cae():
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS as MMP
    from mmpretrain.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = _build_reference(MMP)
    model.init_weights()
    # LayerNorms and biases start at 1/0: make them random so that a swapped key shows
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and 'target_generator' not in name:
                p.add_(0.1 * torch.randn_like(p))
        for p_b, p_t in zip(model.backbone.parameters(), model.teacher.parameters()):
            p_t.copy_(p_b)
    return model.eval()


def _build_reference(MMP):
    return MMP.build(dict(
        type='CAE',
        backbone=dict(type='CAEPretrainViT', arch=dict(embed_dims=DIM, num_layers=DEPTH,
                                                       num_heads=HEADS,
                                                       feedforward_channels=4 * DIM),
                      img_size=32, patch_size=8, layer_scale_init_value=0.1, bias='qv_bias'),
        neck=dict(type='CAENeck', num_classes=VOCAB, embed_dims=DIM, num_heads=HEADS,
                  regressor_depth=2, decoder_depth=2, mlp_ratio=4, layer_scale_init_value=0.1,
                  mask_tokens_num=6),
        head=dict(type='CAEHead', loss=dict(type='CAELoss', lambd=2)),
        target_generator=dict(type='DALL-E', group_count=4, n_hid=8, n_blk_per_group=1,
                              vocab_size=VOCAB),
        base_momentum=0.0))


def _mimlab_cae(style='cae'):
    return MODELS.build(dict(
        type='CAE',
        backbone=dict(type='MaskedViT', arch=dict(embed_dim=DIM, depth=DEPTH, num_heads=HEADS),
                      img_size=32, patch_size=8, mask_ratio=6 / 16, mask_mode='block',
                      block_min_patches=2, layer_scale_init_value=0.1),
        neck=dict(type='LatentContextualRegressor', depth=2, init_values=0.1, style=style),
        decoder=dict(type='CAEPretrainDecoder', depth=2, init_values=0.1),
        head=dict(type='DVAETokenHead', tokenizer=TOKENIZER),
        align_weight=2.0, momentum=0.0)).eval()


def _mask(batch=2, seed=0):
    """(B, 16) bool, True = masked, exactly 6 masked patches per image."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.stack([torch.randperm(16, generator=g) for _ in range(batch)])
    mask = torch.zeros(batch, 16, dtype=torch.bool)
    mask.scatter_(1, ids[:, :6], True)
    return mask


def test_regressor_matches_mmpretrain_caeneck():
    """mimlab's regressor (style 'cae') equals the regressor stack of mmpretrain's CAENeck
    with the weights copied across, on the same visible latents, positions and masked ids."""
    torch.manual_seed(0)
    ref = _mmpretrain_cae()
    ours = _mimlab_cae()
    converted, _ = mmpretrain_cae_model_to_mimlab(ref.state_dict())
    ours.load_state_dict(converted)
    mask = _mask()
    pm = PatchMask.from_mask(mask)
    tokens = torch.randn(2, 1 + 10, DIM)
    pos = ref.backbone.pos_embed
    pos_masked = pos[:, 1:].expand(2, -1, -1)[mask].view(2, 6, DIM)
    pos_unmasked = pos[:, 1:].expand(2, -1, -1)[~mask].view(2, 10, DIM)
    with torch.no_grad():
        _, ref_latent = ref.neck(tokens[:, 1:], pos_masked, pos_unmasked)
        latent = ours.neck(tokens, pm, pos)
    assert torch.allclose(latent, ref_latent, atol=1e-5)
    # the earlier mimlab block (cls among the keys, pre-norm MLP) is a different function
    prenorm = _mimlab_cae(style='prenorm')
    prenorm.load_state_dict(converted)
    with torch.no_grad():
        other = prenorm.neck(tokens, pm, pos)
    assert (other - ref_latent).abs().max() > 1e-2


def test_whole_cae_loss_matches_mmpretrain_on_converted_weights():
    """The whole mmpretrain CAE converted into mimlab: same images, same mask, same target
    tokens -> the same cross-entropy and alignment losses."""
    from mmpretrain.structures import DataSample
    torch.manual_seed(0)
    ref = _mmpretrain_cae()
    converted, dropped = mmpretrain_cae_model_to_mimlab(ref.state_dict())
    assert dropped == []
    ours = _mimlab_cae()
    result = ours.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    images = torch.randn(2, 3, 32, 32)
    mask = _mask(seed=1)
    tokens = torch.randint(0, VOCAB, (2, 16), generator=torch.Generator().manual_seed(2))
    # the same random target tokens on both sides: one-hot logits for mmpretrain's argmax,
    # the ids themselves for mimlab's head
    ref.target_generator.forward = lambda x: torch.nn.functional.one_hot(
        tokens, VOCAB).float().transpose(1, 2).reshape(2, VOCAB, 4, 4)
    ours.head.target = lambda x: tokens
    samples = [DataSample().set_mask(m.view(4, 4)) for m in mask]
    with torch.no_grad():
        ref_loss = ref.loss([images, images], samples)
        loss = ours.loss(images, patch_mask=PatchMask.from_mask(mask))
    assert torch.allclose(loss['loss_target'], ref_loss['main'], atol=1e-5)
    assert torch.allclose(loss['loss_align'], ref_loss['align'], atol=1e-5)
    assert ref_loss['align'] > 0 and ref_loss['main'] > 0
    # a trained mmpretrain checkpoint's teacher lags the encoder by a step: still converts
    lagging = {k: v + 1e-3 if k.startswith('teacher.') else v for k, v in ref.state_dict().items()}
    assert mmpretrain_cae_model_to_mimlab(lagging)[0].keys() == converted.keys()
    # and back: mimlab's weights in mmpretrain's layout load strictly and give the same loss
    back = mimlab_to_mmpretrain_cae(ours.state_dict())
    ref2 = _mmpretrain_cae()
    assert ref2.load_state_dict(back, strict=True)
    ref2.target_generator.forward = ref.target_generator.forward
    with torch.no_grad():
        ref2_loss = ref2.loss([images, images], samples)
    assert torch.allclose(ref2_loss['main'], ref_loss['main'], atol=1e-6)
    assert torch.allclose(ref2_loss['align'], ref_loss['align'], atol=1e-6)


def test_official_cae_layout_round_trip_and_checks():
    """mimlab -> official CAE -> mimlab is the identity (the key bias of the decoder's qkv is
    zero in a model that came from the official layout); a momentum teacher or positions that
    differ from the encoder's are refused."""
    torch.manual_seed(0)
    ref = _mmpretrain_cae()
    ours = _mimlab_cae()
    ours.load_state_dict(mmpretrain_cae_model_to_mimlab(ref.state_dict())[0])
    mine = ours.state_dict()
    official = mimlab_to_cae_model(mine)
    assert 'regresser.regressor_blocks.1.norm1_q.weight' in official
    assert 'decoder.decoder_blocks.0.attn.q_bias' in official and 'decoder.head.weight' in official
    assert torch.equal(official['rd_pos_embed'], official['encoder.pos_embed'])
    again, dropped = cae_model_to_mimlab(official)
    assert dropped == []
    tokenizer_free = {k: v for k, v in mine.items() if not k.startswith('head.tokenizer.')}
    assert again.keys() == tokenizer_free.keys()
    assert all(torch.equal(again[k], v) for k, v in tokenizer_free.items())
    bad = dict(official)
    bad['alignment_encoder.cls_token'] = bad['alignment_encoder.cls_token'] + 1
    with pytest.raises(ValueError, match='momentum'):
        cae_model_to_mimlab(bad)
    bad = dict(official, rd_pos_embed=official['rd_pos_embed'] + 1)
    with pytest.raises(ValueError, match='rd_pos_embed'):
        cae_model_to_mimlab(bad)


def test_whole_model_tools_convert_and_export(tmp_path, capsys):
    """convert.py --whole turns an mmpretrain CAE checkpoint into a whole mimlab CAE checkpoint
    that loads strictly; export_backbone.py --whole writes it back in both layouts, and the
    official one converts back to the same tensors."""
    from conftest import import_tool
    torch.manual_seed(0)
    ref = _mmpretrain_cae()
    src = tmp_path / 'mmpretrain_cae.pth'
    torch.save(dict(state_dict=ref.state_dict()), src)
    convert = import_tool('convert', 'tools/model_converters')
    convert.main(['mmpretrain', str(src), str(tmp_path / 'mimlab.pth'), '--whole'])
    assert 'model tensors from the mmpretrain layout' in capsys.readouterr().out
    loaded = torch.load(tmp_path / 'mimlab.pth', weights_only=True)
    ours = _mimlab_cae()
    ours.load_state_dict(loaded['state_dict'], strict=True)
    assert loaded['meta']['whole_model']
    export = import_tool('export_backbone', 'tools/model_converters')
    export.main([str(tmp_path / 'mimlab.pth'), str(tmp_path / 'official.pth'), '--whole',
                 '--layout', 'cae'])
    export.main([str(tmp_path / 'mimlab.pth'), str(tmp_path / 'back.pth'), '--whole',
                 '--layout', 'mmpretrain'])
    back = torch.load(tmp_path / 'back.pth', weights_only=True)['state_dict']
    assert ref.load_state_dict(back, strict=True)
    convert.main(['cae', str(tmp_path / 'official.pth'), str(tmp_path / 'again.pth'), '--whole'])
    again = torch.load(tmp_path / 'again.pth', weights_only=True)['state_dict']
    expected = {k: v for k, v in loaded['state_dict'].items()
                if not k.startswith('head.tokenizer.')}
    assert again.keys() == expected.keys()
    assert all(torch.equal(again[k], v) for k, v in expected.items())
    # an encoder-only file is refused with the way out
    torch.save(dict(state_dict={k: v for k, v in ref.state_dict().items()
                                if k.startswith('backbone.')}), tmp_path / 'encoder.pth')
    with pytest.raises(SystemExit, match='without --whole'):
        convert.main(['mmpretrain', str(tmp_path / 'encoder.pth'), str(tmp_path / 'x.pth'),
                      '--whole'])


def _official_cae_encoder(sd, images, num_heads):
    """Official CAE's ``VisionTransformerEncoder`` forward over all patches (ported from
    Atten4Vis/CAE models/modeling_cae_helper.py: BEiT attention with q/v biases, LayerScale
    ``gamma_1``/``gamma_2``, LayerNorm eps 1e-6, final norm) on its own keys."""
    import torch.nn.functional as F
    ln = lambda x, k: F.layer_norm(x, x.shape[-1:], sd[k + '.weight'], sd[k + '.bias'], 1e-6)
    x = F.conv2d(images, sd['patch_embed.proj.weight'], sd['patch_embed.proj.bias'], stride=16)
    x = x.flatten(2).transpose(1, 2)
    x = torch.cat([sd['cls_token'].expand(x.shape[0], -1, -1), x], dim=1) + sd['pos_embed']
    i = 0
    while f'blocks.{i}.norm1.weight' in sd:
        b = f'blocks.{i}.'
        h = ln(x, b + 'norm1')
        qkv_bias = torch.cat([sd[b + 'attn.q_bias'], torch.zeros_like(sd[b + 'attn.v_bias']),
                              sd[b + 'attn.v_bias']])
        B, N, C = h.shape
        qkv = F.linear(h, sd[b + 'attn.qkv.weight'], qkv_bias)
        q, k, v = qkv.reshape(B, N, 3, num_heads, -1).permute(2, 0, 3, 1, 4)
        attn = ((q * (C // num_heads) ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
        h = F.linear((attn @ v).transpose(1, 2).reshape(B, N, -1), sd[b + 'attn.proj.weight'],
                     sd[b + 'attn.proj.bias'])
        x = x + sd[b + 'gamma_1'] * h
        h = F.gelu(F.linear(ln(x, b + 'norm2'), sd[b + 'mlp.fc1.weight'], sd[b + 'mlp.fc1.bias']))
        x = x + sd[b + 'gamma_2'] * F.linear(h, sd[b + 'mlp.fc2.weight'], sd[b + 'mlp.fc2.bias'])
        i += 1
    return ln(x, 'norm')


def test_cae_small_config_computes_official_cae_small(capsys, tmp_path):
    """The CAE ViT-S configs build official CAE's ViT-S (12 heads): an official-layout encoder
    checkpoint, converted, gives the official model's features; with DeiT's 6 heads it would load
    just as strictly and compute something else. The converter says it cannot know the count."""
    from conftest import REPO, import_tool
    from mmengine.config import Config

    from mimlab.apis.converters import cae_to_mimlab
    cfg = Config.fromfile(f'{REPO}/configs/cae/cae_vit-small-p16_8xb256-coslr-300e_in1k.py')
    backbone = dict(cfg.model.backbone, type='VisionTransformer', img_size=32, out_type='raw')
    for key in ('mask_ratio', 'mask_mode', 'block_min_patches', 'block_max_aspect'):
        backbone.pop(key)
    ours = MODELS.build(backbone).eval()
    assert ours.num_heads == 12
    g = torch.Generator().manual_seed(0)
    official = {}
    for key, value in ours.state_dict().items():  # official CAE names, random values
        official[key.replace('ls1.gamma', 'gamma_1').replace('ls2.gamma', 'gamma_2')] = \
            0.5 * torch.randn(value.shape, generator=g) + ('gamma' in key)
    for key in [k for k in official if k.endswith('.attn.qkv.bias')]:
        q, _, v = official.pop(key).chunk(3)
        official[key.replace('qkv.bias', 'q_bias')] = q
        official[key.replace('qkv.bias', 'v_bias')] = v
    official = {f'encoder.{k}': v for k, v in official.items()}
    converted, _ = cae_to_mimlab(official)
    assert ours.load_state_dict(converted, strict=True)
    images = torch.randn(2, 3, 32, 32, generator=g)
    plain = {k[len('encoder.'):]: v for k, v in official.items()}
    with torch.no_grad():
        expected = _official_cae_encoder(plain, images, num_heads=12)
        assert torch.allclose(ours(images)[0], expected, atol=1e-4)
        six = _official_cae_encoder(plain, images, num_heads=6)
    assert (six - expected).abs().mean() > 0.05  # the head count changes the function
    torch.save(dict(model=official), tmp_path / 'official.pth')
    convert = import_tool('convert', 'tools/model_converters')
    convert.main(['cae', str(tmp_path / 'official.pth'), str(tmp_path / 'mimlab.pth')])
    out = capsys.readouterr().out
    assert 'head count is not stored' in out and "arch='cae-tiny'/'cae-small'" in out
