"""DDeP / DeP: noise, loss, frozen encoder, U-Net decoder, timm encoder, label splits, and the
decoder reused as an mmseg decode head."""
import glob
import math
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import REPO
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from mimlab.evaluation.denoising import highpass, highpass_noise_baseline
from mimlab.datasets.label_splits import label_fraction_split, split_size, write_label_splits
from mimlab.models.necks.unet_decoder import UNetDecoder
from mimlab.evaluation.metrics import ReconstructionLoss
from mimlab.models.utils.noise import (add_noise, check_noise, draw_noise_levels, implied_noise,
                                     noisy_batch)
from mimlab.registry import MODELS

DDEP_CONFIGS = osp.join(REPO, 'configs/ddep')
SEG_DEMO = osp.join(REPO, 'configs/benchmarks/mmseg/'
                    'unet-ddep_vit-tiny-p4_1xb8-adam-coslr-300i_ade20k-scenes-64x64.py')


def tiny_ddep_cfg(**kwargs) -> dict:
    cfg = dict(
        type='DDeP',
        backbone=dict(type='VisionTransformer', arch=dict(embed_dim=32, depth=2, num_heads=2),
                      img_size=16, patch_size=4, out_indices=(0, 1)),
        neck=dict(type='UNetDecoder', widths=(16, 8, 4)),
        data_preprocessor=dict(type='ImgDataPreprocessor', mean=[0.0] * 3, std=[1.0] * 3))
    cfg.update(kwargs)
    return cfg


# ---- noise -------------------------------------------------------------------------------------

def test_noise_on_a_hand_example():
    x = torch.tensor([1.0, -1.0]).view(2, 1, 1, 1)
    eps = torch.tensor([0.5, 2.0]).view(2, 1, 1, 1)
    sigma = torch.tensor([0.6, 0.6])  # gamma = 1 - 0.36 = 0.64, sqrt(gamma) = 0.8
    scaled = add_noise(x, sigma, eps, 'scaled').flatten()
    assert scaled.tolist() == pytest.approx([0.8 + 0.3, -0.8 + 1.2])
    additive = add_noise(x, sigma, eps, 'additive').flatten()
    assert additive.tolist() == pytest.approx([1.0 + 0.3, -1.0 + 1.2])


def test_scaled_noise_gives_the_stated_variance():
    g = torch.Generator().manual_seed(0)
    # a constant image: the noisy image's variance is sigma^2 = 1 - gamma
    noisy, eps, levels = noisy_batch(torch.full((4, 3, 64, 64), 0.7), 0.22, 'scaled', g)
    assert levels.tolist() == pytest.approx([0.22] * 4)
    assert noisy.var().item() == pytest.approx(0.22 ** 2, rel=0.03)
    assert noisy.mean().item() == pytest.approx(math.sqrt(1 - 0.22 ** 2) * 0.7, abs=2e-3)
    # unit-variance data keeps unit variance; additive noise adds sigma^2
    x = torch.randn(4, 3, 64, 64, generator=g)
    scaled, _, _ = noisy_batch(x, 0.5, 'scaled', g)
    additive, _, _ = noisy_batch(x, 0.5, 'additive', g)
    assert x.var().item() == pytest.approx(1.0, rel=0.03)
    assert scaled.var().item() == pytest.approx(1.0, rel=0.03)
    assert additive.var().item() == pytest.approx(1.25, rel=0.03)


def test_variable_noise_draws_a_level_per_image_in_the_range():
    levels = draw_noise_levels(1000, (0.1, 0.3), torch.Generator().manual_seed(0))
    assert levels.min() >= 0.1 and levels.max() <= 0.3
    assert levels.mean().item() == pytest.approx(0.2, abs=0.01)
    assert levels.std().item() == pytest.approx(0.2 / math.sqrt(12), rel=0.1)  # uniform


@pytest.mark.parametrize('sigma,form,message', [
    (1.2, 'scaled', r'\(0, 1\]'), (0.0, 'additive', r'\(0, inf\)'), ((0.3, 0.1), 'scaled', 'low'),
    (0.2, 'gaussian', 'form')])
def test_bad_noise_settings_are_refused(sigma, form, message):
    with pytest.raises(ValueError, match=message):
        check_noise(sigma, form)
    with pytest.raises(ValueError, match=message):
        MODELS.build(tiny_ddep_cfg(noise_sigma=sigma, noise_form=form))


# ---- loss --------------------------------------------------------------------------------------

@pytest.mark.parametrize('form', ['scaled', 'additive'])
def test_a_perfect_noise_predictor_has_zero_loss(form):
    model = MODELS.build(tiny_ddep_cfg(noise_sigma=0.3, noise_form=form))
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    keep = math.sqrt(1 - 0.09) if form == 'scaled' else 1.0
    # knows the clean image, so recovers eps from the noisy one exactly
    model.denoise = lambda noisy: (noisy - keep * x) / 0.3
    assert model.loss(x)['loss_denoise'].item() == pytest.approx(0.0, abs=1e-10)

    torch.manual_seed(5)
    _, eps, _ = noisy_batch(x, 0.3, form)
    torch.manual_seed(5)
    model.denoise = torch.zeros_like
    assert model.loss(x)['loss_denoise'].item() == pytest.approx(eps.pow(2).mean().item())


def test_clean_image_target_option():
    model = MODELS.build(tiny_ddep_cfg(target='image'))
    x = torch.randn(2, 3, 16, 16)
    model.denoise = lambda noisy: x
    assert model.loss(x)['loss_denoise'].item() == 0.0
    model.denoise = lambda noisy: (noisy - math.sqrt(1 - 0.22 ** 2) * x) / 0.22  # the noise
    assert model.loss(x)['loss_denoise'].item() > 0.5


@pytest.mark.parametrize('form', ['scaled', 'additive'])
def test_implied_noise_inverts_the_noise_model(form):
    # hand example: x = 1, eps = 0.5, sigma = 0.6: scaled x_n = 0.8 + 0.3, additive 1 + 0.3
    noisy = torch.tensor([1.1 if form == 'scaled' else 1.3]).view(1, 1, 1, 1)
    eps = implied_noise(noisy, torch.ones(1, 1, 1, 1), torch.tensor([0.6]), form)
    assert eps.item() == pytest.approx(0.5)
    # per-image levels: each image inverted with its own
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 8, 8, generator=g)
    noisy, eps, levels = noisy_batch(x, (0.1, 0.5), form, g)
    assert len(set(levels.tolist())) == 4
    assert torch.allclose(implied_noise(noisy, x, levels, form), eps, atol=1e-5)
    # the clean image predicted wrongly by d: the implied noise is off by keep * d / sigma
    keep = (1 - levels ** 2).sqrt() if form == 'scaled' else torch.ones(4)
    off = implied_noise(noisy, x + 0.1, levels, form) - eps
    assert torch.allclose(off, -0.1 * (keep / levels).view(4, 1, 1, 1).expand_as(off),
                          atol=1e-5)


@pytest.mark.parametrize('form', ['scaled', 'additive'])
def test_image_target_is_scored_on_the_noise_it_implies(form):
    """``predict`` scores both targets in eps-MSE: a perfect clean-image predictor scores 0, one
    that predicts x + 0.1 scores (keep * 0.1 / sigma)^2, predicting zero noise scores E[eps^2]."""
    model = MODELS.build(tiny_ddep_cfg(target='image', noise_sigma=0.3, noise_form=form)).eval()
    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    draws = [noisy_batch(x[i:i + 1], 0.3, form, torch.Generator().manual_seed(i))
             for i in range(3)]
    eps = torch.cat([e for _, e, _ in draws])
    keep = math.sqrt(1 - 0.09) if form == 'scaled' else 1.0

    model.denoise = lambda noisy, zero_encoder=False: x
    perfect = model.predict(x)
    assert [r['eps_mse'] for r in perfect] == pytest.approx([0.0] * 3, abs=1e-9)
    assert [r['loss_rec'] for r in perfect] == pytest.approx([0.0] * 3, abs=1e-12)
    assert [r['eps_sq'] for r in perfect] == pytest.approx(eps.pow(2).flatten(1).mean(1).tolist())
    model.denoise = lambda noisy, zero_encoder=False: x + 0.1
    shifted = model.predict(x)
    assert [r['eps_mse'] for r in shifted] == pytest.approx([(keep * 0.1 / 0.3) ** 2] * 3,
                                                            rel=1e-4)
    assert [r['loss_rec'] for r in shifted] == pytest.approx([0.01] * 3, rel=1e-4)
    # the noise target with the same (perfect, then zero) predictions of the noise
    noise_model = MODELS.build(tiny_ddep_cfg(noise_sigma=0.3, noise_form=form)).eval()
    noise_model.denoise = lambda noisy, zero_encoder=False: eps
    assert [r['eps_mse'] for r in noise_model.predict(x)] == pytest.approx([0.0] * 3, abs=1e-12)
    noise_model.denoise = lambda noisy, zero_encoder=False: torch.zeros_like(noisy)
    zero = noise_model.predict(x)
    assert [r['eps_mse'] for r in zero] == pytest.approx([r['eps_sq'] for r in zero])
    # tools/test.py's metric reports every figure, averaged
    metric = ReconstructionLoss()
    metric.process(None, shifted)
    result = metric.compute_metrics(metric.results)
    assert result['eps_mse'] == pytest.approx((keep * 0.1 / 0.3) ** 2, rel=1e-4)
    assert result['eps_sq'] == pytest.approx(eps.pow(2).mean().item(), rel=1e-5)
    assert result['loss_rec'] == pytest.approx(0.01, rel=1e-4) and result['num_images'] == 3


def test_zeroed_encoder_leaves_only_the_image_skips():
    torch.manual_seed(0)
    with_skips = MODELS.build(tiny_ddep_cfg()).eval()
    without = MODELS.build(tiny_ddep_cfg(neck=dict(type='UNetDecoder', widths=(16, 8, 4),
                                                   image_skip_strides=()))).eval()
    noisy = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    other = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        # no skips: with the encoder zeroed the prediction does not depend on the input
        assert not torch.allclose(without.denoise(noisy), without.denoise(other))
        assert torch.equal(without.denoise(noisy, zero_encoder=True),
                           without.denoise(other, zero_encoder=True))
        # with skips: another encoder changes the prediction, but not the zeroed-encoder one,
        # which still follows the input through the skips
        full, zeroed = with_skips.denoise(noisy), with_skips.denoise(noisy, zero_encoder=True)
        for p in with_skips.backbone.parameters():
            p.add_(torch.randn_like(p))
        assert not torch.allclose(with_skips.denoise(noisy), full)
        assert torch.equal(with_skips.denoise(noisy, zero_encoder=True), zeroed)
        assert not torch.allclose(with_skips.denoise(other, zero_encoder=True), zeroed)


def test_skip_share_tool_scores_a_checkpoint_with_the_encoder_zeroed(tmp_path):
    from PIL import Image

    for split in ('training', 'validation'):
        (tmp_path / 'images' / split).mkdir(parents=True)
        for i in range(3):
            pixels = torch.randint(0, 255, (16, 16, 3), generator=torch.Generator().manual_seed(i))
            Image.fromarray(pixels.numpy().astype('uint8')).save(
                tmp_path / 'images' / split / f'{i}.png')
    pipeline = [dict(type='LoadImage'), dict(type='PackInputs')]
    cfg = Config(dict(
        model=tiny_ddep_cfg(), test_pipeline=pipeline,
        train_dataloader=dict(dataset=dict(type='ImageDataset', split='training',
                                           data_root=str(tmp_path / 'images'),
                                           pipeline=pipeline)),
        test_dataloader=dict(batch_size=2)))
    config = str(tmp_path / 'ddep.py')
    cfg.dump(config)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    ckpt = str(tmp_path / 'ddep.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)

    from conftest import import_tool
    result = import_tool('ddep_skip_share', 'tools/analysis_tools').main([config, ckpt])
    # the same figures from the model by hand, images seeded by their index as in tools/test.py
    inputs = torch.stack([torch.from_numpy(np.array(Image.open(
        tmp_path / 'images' / 'validation' / f'{i}.png'))).permute(2, 0, 1).float()
        for i in range(3)])
    with torch.no_grad():
        full = model.predict(inputs)
        zeroed = model.predict(inputs, zero_encoder=True)
    mean = lambda rs: float(np.mean([r['eps_mse'] for r in rs]))  # noqa: E731
    eps_sq = float(np.mean([r['eps_sq'] for r in full]))
    assert result['images'] == 3 and result['image_skip_strides'] == [1, 2]
    assert result['eps_mse'] == pytest.approx(mean(full), rel=1e-5)
    assert result['eps_mse_zero_encoder'] == pytest.approx(mean(zeroed), rel=1e-5)
    assert mean(zeroed) != pytest.approx(mean(full), rel=1e-3)
    assert result['skip_share'] == pytest.approx(
        (eps_sq - mean(zeroed)) / (eps_sq - mean(full)), rel=1e-4)

    # a checkpoint whose stored run config trained the other target: refused, naming the key
    stored = Config(dict(model=dict(tiny_ddep_cfg(), target='image')))
    torch.save(dict(state_dict=model.state_dict(), meta=dict(cfg=stored.pretty_text)), ckpt)
    with pytest.raises(SystemExit, match=r"model.target: .* trained with target 'image'"):
        import_tool('ddep_skip_share', 'tools/analysis_tools').main([config, ckpt])
    image_result = import_tool('ddep_skip_share', 'tools/analysis_tools').main(
        [config, ckpt, '--cfg-options', 'model.target=image'])
    assert image_result['target'] == 'image'
    # tools/test.py names the difference (it evaluates what the config builds)
    from mimlab.engine.resume import trained_model_differences
    assert trained_model_differences(cfg, ckpt) == [
        "model.target: 'image' in the checkpoint -> absent (its default) here"]
    assert trained_model_differences(Config(dict(model=stored.model)), ckpt) == []


# ---- DDeP vs DeP -------------------------------------------------------------------------------

@pytest.mark.parametrize('freeze', [True, False])
def test_ddep_freezes_the_encoder_and_dep_trains_it(freeze):
    torch.manual_seed(0)
    model = MODELS.build(tiny_ddep_cfg(freeze_encoder=freeze))
    model.train()
    assert model.backbone.training is not freeze and model.neck.training
    encoder = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    decoder = {k: v.clone() for k, v in model.neck.state_dict().items()}
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='Adam', lr=1e-2)))
    data = dict(inputs=[torch.randint(0, 255, (3, 16, 16), dtype=torch.uint8)] * 2)
    log = model.train_step(data, wrapper)
    assert torch.isfinite(log['loss'])
    changed = [k for k, v in model.backbone.state_dict().items() if not torch.equal(v, encoder[k])]
    assert (changed == []) is freeze, changed
    if not freeze:
        assert 'blocks.0.attn.qkv.weight' in changed
    assert not torch.equal(model.neck.state_dict()['bottleneck.0.weight'],
                           decoder['bottleneck.0.weight'])


# ---- U-Net decoder -----------------------------------------------------------------------------

def test_unet_decoder_on_hybrid_features():
    # TransUNet's layout: ResNet features at strides 2, 4, 8 and the ViT at 16
    decoder = UNetDecoder([8, 16, 24, 32], [2, 4, 8, 16], widths=(40, 20, 10, 6, 4))
    feats = [torch.randn(2, c, 64 // s, 64 // s) for c, s in zip([8, 16, 24, 32], [2, 4, 8, 16])]
    image = torch.randn(2, 3, 64, 64)
    assert decoder(feats, image).shape == (2, 4, 64, 64)
    assert decoder.skip_of_stage == {1: 2, 2: 1, 3: 0} and len(decoder.skip_adapters) == 0
    # stage 1 joins the stride-8 feature (24 channels) to the 40-channel bottleneck
    assert decoder.stages[0][0][0].in_channels == 40 + 24
    # the ResNet stem gives stride 2: only the full-resolution stage gets the image (UNETR's
    # conv skip, 4 channels); TransUNet's own last block has no skip
    assert decoder.image_skip_strides == [1] and list(decoder.image_skips) == ['4']
    assert decoder.stages[3][0][0].in_channels == 6 + 4
    transunet = UNetDecoder([8, 16, 24, 32], [2, 4, 8, 16], widths=(40, 20, 10, 6, 4),
                            image_skip_strides=())
    assert transunet.stages[3][0][0].in_channels == 6 and transunet(feats).shape == (2, 4, 64, 64)
    with pytest.raises(ValueError, match='pass the input image'):
        decoder(feats)


def test_unet_decoder_widths_and_plain_vit_skips():
    paper = UNetDecoder([768] * 4, [16] * 4, width_mult=2)
    assert paper.widths == [2048, 1024, 512, 256, 128] and paper.out_stride == 1
    # plain ViT: skips at the patch stride are upsampled to each stage (2x, 4x, 8x)
    adapters = paper.skip_adapters
    assert [sum(isinstance(m, torch.nn.ConvTranspose2d) for m in adapters[s].modules())
            for s in ('1', '2', '3')] == [1, 2, 3]
    # ... and the stride-2 and stride-1 stages get conv skips from the image (one stride-2 conv
    # for the stride-2 one, none for the full-resolution one)
    assert paper.image_skip_strides == [1, 2] and sorted(paper.image_skips) == ['3', '4']
    strided = [[m.stride for m in paper.image_skips[s].modules()
                if isinstance(m, torch.nn.Conv2d)] for s in ('3', '4')]
    assert strided == [[(2, 2), (1, 1)], [(1, 1), (1, 1)]]
    assert paper.stages[2][0][0].in_channels == 512 + 256 + 256  # x, ViT skip, image skip
    short = UNetDecoder([32, 32], [4, 4], widths=(16, 8))  # ends at stride 2: resized to input
    assert short.out_stride == 2 and short.image_skip_strides == [2]
    assert short([torch.randn(1, 32, 4, 4)] * 2, torch.randn(1, 3, 16, 16)).shape == (1, 8, 16, 16)
    with pytest.raises(ValueError, match='allows 1 to 3'):
        UNetDecoder([32], [4], widths=(16, 8, 4, 2))
    with pytest.raises(ValueError, match='powers of two'):
        UNetDecoder([32], [14])
    with pytest.raises(ValueError, match='skip features'):
        UNetDecoder([32] * 4, [4] * 4, widths=(16, 8))
    with pytest.raises(ValueError, match=r'image_skip_strides \[4\]'):
        UNetDecoder([32], [4], widths=(16, 8, 4), image_skip_strides=(4, ))


def smooth_images(count: int, seed: int) -> torch.Tensor:
    """(count, 3, 16, 16) images with content at a coarse scale only (4 x 4, interpolated)."""
    coarse = torch.randn(count, 3, 4, 4, generator=torch.Generator().manual_seed(seed))
    return F.interpolate(coarse, size=16, mode='bilinear', align_corners=False)


def heldout_denoising_mse(image_skip_strides, steps: int = 50) -> float:
    """A tiny DDeP (random frozen ViT) trained ``steps`` Adam steps on 8 smooth images; its
    eps-MSE on 8 other images with fixed noise."""
    torch.manual_seed(0)
    cfg = tiny_ddep_cfg(neck=dict(type='UNetDecoder', widths=(16, 16, 16),
                                  image_skip_strides=image_skip_strides))
    model = MODELS.build(cfg)
    model.train()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-2)
    train = smooth_images(8, seed=1)
    for _ in range(steps):
        loss = model.loss(train)['loss_denoise']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        noisy, eps, _ = noisy_batch(smooth_images(8, seed=2), 0.22, 'scaled',
                                    torch.Generator().manual_seed(3))
        return (model.denoise(noisy) - eps).pow(2).mean().item()


def test_the_image_skips_let_the_decoder_learn_to_denoise():
    # a plain ViT's features are all at the patch stride (4 here): without a fine-scale path the
    # per-pixel noise cannot be told apart and the decoder stays at predicting ~zero (1.0)
    with_skips, without = heldout_denoising_mse(None), heldout_denoising_mse(())
    assert without > 0.95
    assert with_skips < 0.7 and without - with_skips > 0.35, (with_skips, without)


def test_highpass_baseline_on_hand_cases():
    ramp = torch.arange(16.0).view(1, 1, 1, 16).expand(2, 3, 16, 16)
    assert highpass(torch.full((1, 3, 8, 8), 5.0)).abs().max() < 1e-5
    assert highpass(ramp)[..., 1:-1].abs().max() < 1e-5  # a linear ramp passes nothing
    # on pure noise (a zero image): the filter keeps 8/9 of eps, its output has variance 8/9,
    # so the fitted scale is 1 / sigma and the error 1 - 8/9
    eps = torch.randn(8, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    result = highpass_noise_baseline([(0.22 * eps, eps)])
    assert result['scale'] == pytest.approx(1 / 0.22, rel=0.02)
    assert result['mse'] == pytest.approx(1 / 9, abs=0.01)


def test_ddep_on_a_timm_encoder_with_weights_from_a_local_file(tmp_path):
    import timm
    kwargs = dict(embed_dim=32, depth=2, num_heads=2)
    source = timm.create_model('vit_tiny_patch16_224', pretrained=False, num_classes=0,
                               img_size=32, patch_size=4, **kwargs)
    torch.save(source.state_dict(), tmp_path / 'vit.pth')
    cfg = tiny_ddep_cfg(backbone=dict(
        type='TimmEncoder', model_name='vit_tiny_patch16_224', img_size=32, patch_size=4,
        out_indices=(0, 1), checkpoint=str(tmp_path / 'vit.pth'), **kwargs))
    cfg['neck']['widths'] = (16, 8, 4)
    model = MODELS.build(cfg)
    assert model.backbone.out_channels == [32, 32] and model.backbone.out_strides == [4, 4]
    # the decoder is sized from the encoder's spec, as for a mimlab ViT
    assert model.encoder_spec.feature_maps.channels == (32, 32)
    assert model.encoder_spec.feature_maps.strides == (4, 4)
    assert model.neck.in_channels == [32, 32] and model.neck.in_strides == [4, 4]
    model.init_weights()
    assert torch.equal(model.backbone.model.blocks[1].mlp.fc1.weight,
                       source.blocks[1].mlp.fc1.weight)
    loss = model.loss(torch.randn(2, 3, 32, 32))['loss_denoise']
    assert torch.isfinite(loss)

    missing = dict(cfg['backbone'], checkpoint=str(tmp_path / 'nothing.pth'))
    with pytest.raises(FileNotFoundError, match='nothing.pth'):
        MODELS.build(missing).init_weights()


def test_timm_hybrid_encoder_taps_the_resnet_stages():
    encoder = MODELS.build(dict(
        type='TimmEncoder', model_name='vit_base_r50_s16_224', img_size=64, embed_dim=32,
        depth=1, num_heads=2, out_indices=(-1, ),
        tap_modules=('patch_embed.backbone.stem.norm', 'patch_embed.backbone.stages.0',
                     'patch_embed.backbone.stages.1')))
    assert encoder.out_channels == [64, 256, 512, 32]
    assert encoder.out_strides == [2, 4, 8, 16]
    with pytest.raises(KeyError, match='no module'):
        MODELS.build(dict(type='TimmEncoder', model_name='resnet18', tap_modules=('stem.x', )))


# ---- label-fraction splits ---------------------------------------------------------------------

def test_label_splits_are_deterministic_nested_sized_and_disjoint_from_validation():
    names = [f'ADE_train_{i:08d}' for i in range(1, 201)]
    val = [f'ADE_val_{i:08d}' for i in range(1, 51)]
    splits = {p: label_fraction_split(names + val[:5], p, seed=0, exclude=val)
              for p in (1, 5, 10, 20, 100)}
    assert {p: len(s) for p, s in splits.items()} == {1: 2, 5: 10, 10: 20, 20: 40, 100: 200}
    assert splits[10] == label_fraction_split(names, 10, seed=0)
    assert splits[10] != label_fraction_split(names, 10, seed=1)
    assert set(splits[1]) <= set(splits[5]) <= set(splits[10]) <= set(splits[20])
    assert all(not set(s) & set(val) for s in splits.values())
    assert split_size(7, 1) == 1
    with pytest.raises(ValueError, match=r'\(0, 100\]'):
        split_size(10, 0)


def test_split_file_is_read_by_mmseg_ade20k_dataset(tmp_path):
    from mmseg.datasets import ADE20KDataset
    for split, tag, count in (('training', 'train', 30), ('validation', 'val', 5)):
        for folder in ('images', 'annotations'):
            (tmp_path / folder / split).mkdir(parents=True)
        for i in range(1, count + 1):
            (tmp_path / 'images' / split / f'ADE_{tag}_{i:08d}.jpg').touch()
    paths = write_label_splits(str(tmp_path), [10, 100], seed=0)
    lines = open(paths[10]).read().split()
    assert len(lines) == 3 and all(n.startswith('ADE_train_') for n in lines)
    dataset = ADE20KDataset(data_root=str(tmp_path), ann_file='splits/train_10pct_seed0.txt',
                            data_prefix=dict(img_path='images/training',
                                             seg_map_path='annotations/training'),
                            pipeline=[])
    assert sorted(osp.basename(d['img_path'])[:-4] for d in dataset) == sorted(lines)


# ---- the decoder in an mmseg segmentor ---------------------------------------------------------

def test_ddep_decoder_loads_into_the_mmseg_decode_head(tmp_path):
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS as SEG_MODELS

    torch.manual_seed(0)
    ddep = MODELS.build(tiny_ddep_cfg())
    ckpt = tmp_path / 'ddep.pth'
    torch.save(dict(meta=dict(epoch=1), state_dict=ddep.state_dict()), ckpt)
    head = dict(type='mimlab.UNetDecodeHead', in_channels=[32, 32], in_strides=[4, 4],
                widths=(16, 8, 4), num_classes=5, decoder_checkpoint=str(ckpt))
    seg_cfg = dict(
        type='mimlab.UNetEncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0.0] * 3, std=[1.0] * 3,
                               size=(16, 16)),
        backbone=dict(type='mimlab.VisionTransformer', arch=dict(embed_dim=32, depth=2,
                                                                 num_heads=2),
                      img_size=16, patch_size=4, out_indices=(0, 1),
                      init_cfg=dict(type='Pretrained', checkpoint=str(ckpt),
                                    prefix='backbone.')),
        decode_head=head, test_cfg=dict(mode='whole'))
    init_default_scope('mmseg')
    try:
        seg = SEG_MODELS.build(seg_cfg)
        renamed = {('decode_head.decoder.' + k[len('neck.'):] if k.startswith('neck.') else k): v
                   for k, v in ddep.state_dict().items() if not k.startswith('head.')}
        missing, unexpected = seg.load_state_dict(renamed, strict=False)
        assert sorted(missing) == ['decode_head.conv_seg.bias', 'decode_head.conv_seg.weight']
        assert unexpected == []

        seg = SEG_MODELS.build(seg_cfg)
        seg.init_weights()
        for k, v in ddep.neck.state_dict().items():
            assert torch.equal(seg.decode_head.decoder.state_dict()[k], v), k
        assert torch.equal(seg.backbone.blocks[1].mlp.fc1.weight,
                           ddep.backbone.blocks[1].mlp.fc1.weight)
        assert seg.decode_head.conv_seg.out_channels == 5
        # the head's decoder gets the image as DDeP's did (its image skips at strides 2 and 1)
        assert seg.decode_head.decoder.image_skip_strides == [1, 2]
        ddep.eval()
        seg.eval()
        image = torch.randn(2, 3, 16, 16)
        features = seg.extract_feat(image)
        assert torch.equal(features[0], image) and len(features) == 3
        assert torch.allclose(seg.decode_head.decoder(features[1:], image),
                              ddep.neck(ddep.encode(image), image), atol=1e-5)
        assert seg._forward(image).shape == (2, 5, 16, 16)
        plain = SEG_MODELS.build(dict(seg_cfg, type='EncoderDecoder'))
        with pytest.raises(ValueError, match='UNetEncoderDecoder'):
            plain._forward(image)

        with pytest.raises(RuntimeError, match='do not fit'):
            other_widths = dict(seg_cfg, decode_head=dict(head, widths=(16, 8, 6)))
            SEG_MODELS.build(other_widths).init_weights()
    finally:
        init_default_scope('mimlab')


def test_a_decoder_without_image_skips_loads_into_a_decode_head_without_them(tmp_path):
    """The skip-off cells of the skip x target ablation fine-tune with
    ``model.decode_head.image_skip_strides=()``: the pretrained weights fit that head exactly and
    not the default one, which has the image skips."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS as SEG_MODELS

    torch.manual_seed(0)
    ddep = MODELS.build(tiny_ddep_cfg(neck=dict(type='UNetDecoder', widths=(16, 8, 4),
                                                image_skip_strides=())))
    ckpt = tmp_path / 'ddep.pth'
    torch.save(dict(meta=dict(epoch=1), state_dict=ddep.state_dict()), ckpt)
    head = dict(type='mimlab.UNetDecodeHead', in_channels=[32, 32], in_strides=[4, 4],
                widths=(16, 8, 4), num_classes=5, decoder_checkpoint=str(ckpt))
    init_default_scope('mmseg')
    try:
        seg_head = SEG_MODELS.build(dict(head, image_skip_strides=()))
        seg_head.init_weights()
        assert seg_head.decoder.image_skip_strides == [] and not seg_head.decoder.image_skips
        for k, v in ddep.neck.state_dict().items():
            assert torch.equal(seg_head.decoder.state_dict()[k], v), k
        with pytest.raises(RuntimeError, match='do not fit'):
            SEG_MODELS.build(head).init_weights()
    finally:
        init_default_scope('mimlab')


def test_demo_segmentation_config_builds_and_trains_a_step():
    from mmengine.registry import init_default_scope
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS as SEG_MODELS
    from mmseg.structures import SegDataSample

    cfg = Config.fromfile(SEG_DEMO)
    assert cfg.train_dataloader.dataset.ann_file == 'splits/train_10pct_seed0.txt'
    assert cfg.model.decode_head.type == 'mimlab.UNetDecodeHead'
    cfg.model.backbone.init_cfg = None
    cfg.model.decode_head.decoder_checkpoint = None  # the random-decoder baseline
    init_default_scope('mmseg')
    try:
        model = SEG_MODELS.build(cfg.model)
        model.init_weights()
        # the demo DDeP decoder's layout (a plain ViT: image skips at strides 1 and 2), with BN
        decoder = model.decode_head.decoder
        assert decoder.image_skip_strides == [1, 2]
        assert isinstance(decoder.bottleneck[1], torch.nn.BatchNorm2d)
        assert not isinstance(decoder.bottleneck[1], torch.nn.SyncBatchNorm)
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        sample = SegDataSample(metainfo=dict(img_shape=(64, 64), pad_shape=(64, 64),
                                             ori_shape=(64, 64)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 150, (1, 64, 64)))
        frozen = model.backbone.blocks[5].mlp.fc1.weight.clone()
        log = model.train_step(dict(inputs=[torch.randint(0, 255, (3, 64, 64),
                                                          dtype=torch.uint8)] * 2,
                                    data_samples=[sample, sample]), wrapper)
        assert torch.isfinite(log['decode.loss_ce'])
        assert torch.equal(model.backbone.blocks[5].mlp.fc1.weight, frozen)  # frozen_stages=6
    finally:
        init_default_scope('mimlab')


def test_pretraining_does_not_import_mmseg():
    code = ('import sys, torch; import mimlab; from mimlab.registry import MODELS; '
            f'm = MODELS.build({tiny_ddep_cfg()!r}); m.loss(torch.randn(1, 3, 16, 16)); '
            'bad = [k for k in sys.modules if k.split(".")[0] in ("mmseg", "mmdet")] '
            '+ [k for k in sys.modules if k.startswith("mmcv.ops")]; '
            'assert not bad, bad')
    subprocess.run([sys.executable, '-c', code], cwd=REPO, check=True, timeout=120)


# ---- configs -----------------------------------------------------------------------------------

@pytest.mark.parametrize('mult,lr,freeze,name', [
    (1, 6e-5, True, 'ddep_r50-vit-base-p16-unet1x_8xb64-adam-coslr-100e_in1k.py'),
    (2, 1e-4, True, 'ddep_r50-vit-base-p16-unet2x_8xb64-adam-coslr-100e_in1k.py'),
    (3, 6e-5, True, 'ddep_r50-vit-base-p16-unet3x_8xb64-adam-coslr-100e_in1k.py'),
    (1, 6e-5, False, 'dep_r50-vit-base-p16-unet1x_8xb64-adam-coslr-100e_in1k.py'),
    (1, 6e-5, False, 'dep_r50-vit-base-p16-in21k-sup-init-unet1x_8xb64-adam-coslr-100e_in1k.py')])
def test_paper_recipes(mult, lr, freeze, name):
    cfg = Config.fromfile(osp.join(DDEP_CONFIGS, name))
    assert cfg.optim_wrapper.optimizer.type == 'Adam'
    assert cfg.optim_wrapper.optimizer.lr == lr
    assert cfg.param_scheduler[0].type == 'CosineAnnealingLR'
    assert cfg.train_cfg.max_epochs == 100 and cfg.train_dataloader.batch_size * 8 == 512
    assert cfg.train_pipeline[1].size == 224
    assert cfg.model.noise_sigma == 0.22 and cfg.model.target == 'noise'
    with torch.device('meta'):
        model = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    assert model.freeze_encoder is freeze
    assert model.neck.widths == [w * mult for w in (1024, 512, 256, 128, 64)]
    assert model.backbone.out_channels == [64, 256, 512, 768]
    assert model.backbone.out_strides == [2, 4, 8, 16]
    assert model.head.pred.out_channels == 3
    # TransUNet's decoder, the paper's: no image skip (the ResNet stem's stride-2 skip only)
    assert model.neck.image_skip_strides == [] and not model.neck.image_skips


def test_image_skip_decoder_is_a_separately_named_variant():
    cfg = Config.fromfile(osp.join(
        DDEP_CONFIGS, 'ddep_r50-vit-base-p16-unet1x-imgskip_8xb64-adam-coslr-100e_in1k.py'))
    paper = Config.fromfile(osp.join(
        DDEP_CONFIGS, 'ddep_r50-vit-base-p16-unet1x_8xb64-adam-coslr-100e_in1k.py'))
    assert cfg.model.neck.image_skip_strides == (1, )
    cfg.model.neck.image_skip_strides = ()
    assert cfg.to_dict() == paper.to_dict()  # differs from the paper config in the skip only


@pytest.mark.parametrize('name,crop,classes', [
    ('unet-ddep_r50-vit-base-p16-1x_8xb2-adam-coslr-160k_ade20k-512x512.py', (512, 512), 150),
    ('unet-ddep_r50-vit-base-p16-1x_8xb1-adam-coslr-80k_cityscapes-1024x1024.py', (1024, 1024),
     19),
    ('unet-ddep_r50-vit-base-p16-1x_8xb2-adam-coslr-80k_pascal-context-59-512x512.py',
     (512, 512), 59)])
def test_paper_segmentation_recipes(name, crop, classes):
    from conftest import import_tool
    cfg = Config.fromfile(osp.join(REPO, 'configs/benchmarks/mmseg', name))
    head = cfg.model.decode_head
    assert head.type == 'mimlab.UNetDecodeHead' and head.num_classes == classes
    assert head.loss_decode.type == 'CrossEntropyLoss'
    assert head.decoder_checkpoint == cfg.model.backbone.checkpoint  # one DDeP checkpoint
    steps = {t.type: t for t in cfg.train_dataloader.dataset.pipeline}
    assert steps['RandomCrop'].crop_size == crop and steps['RandomFlip'].prob == 0.5
    assert 'PhotoMetricDistortion' not in steps
    assert cfg.model.data_preprocessor.size == crop == cfg.model.backbone.img_size
    assert cfg.optim_wrapper.optimizer.type == 'Adam'
    assert [s.type for s in cfg.param_scheduler] == ['CosineAnnealingLR']
    # the pretrained decoder's layout (no image skip), SyncBN at 1-2 images per GPU, which one
    # process turns into BN
    assert head.image_skip_strides == () and head.norm_cfg == dict(type='SyncBN')
    from mimlab.apis.prepare import convert_sync_bn
    one_process = Config.fromfile(osp.join(REPO, 'configs/benchmarks/mmseg', name))
    assert 'model.decode_head.norm_cfg' in convert_sync_bn(one_process)
    assert one_process.model.decode_head.norm_cfg.type == 'BN'
    # multi-scale + flip evaluation: tools/test.py --tta swaps in mmseg's TTA model and pipeline
    import_tool('test').use_tta(cfg, name)
    assert cfg.model.type == 'SegTTAModel'
    assert cfg.model.module.type == 'mimlab.UNetEncoderDecoder'  # hands the head the image
    scales = [t.scale_factor for t in cfg.test_dataloader.dataset.pipeline[1].transforms[0]]
    assert scales == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]


def test_decoder_norm_is_configurable_and_syncbn_loads_bn_weights():
    """norm_cfg reaches every norm of the decoder (bottleneck, stages, skip adapters, image
    skips); SyncBN has BN's keys, so a DDeP decoder pretrained with BN loads into it."""
    bn = UNetDecoder([32, 32], [4, 4], widths=(16, 8, 4))
    sync = UNetDecoder([32, 32], [4, 4], widths=(16, 8, 4), norm_cfg=dict(type='SyncBN'))
    norms = [m for m in sync.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms and all(isinstance(m, torch.nn.SyncBatchNorm) for m in norms)
    assert sync.image_skips and sync.skip_adapters
    assert sync.load_state_dict(bn.state_dict(), strict=True)
    gn = UNetDecoder([32, 32], [4, 4], widths=(16, 8, 4), norm_cfg=dict(type='GN', num_groups=4))
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in gn.modules())


def test_ddep_decoder_is_sized_from_the_encoder_spec():
    model = MODELS.build(tiny_ddep_cfg())
    spec = model.encoder_spec
    assert spec.feature_maps.channels == (32, 32) and spec.feature_maps.strides == (4, 4)
    assert model.neck.in_channels == [32, 32] and model.neck.in_strides == [4, 4]
    assert spec.pixels.mean == (0.0,) * 3 and spec.pixels.std == (1.0,) * 3
    # tensor mode: the feature maps of the whole image
    feats = model(torch.randn(1, 3, 16, 16), mode='tensor')
    assert [tuple(f.shape) for f in feats] == [(1, 32, 4, 4)] * 2
    raw = tiny_ddep_cfg()
    raw['backbone'] = dict(raw['backbone'], out_type='raw')
    with pytest.raises(ValueError, match="needs the encoder's feature maps.*out_type='featmap'"):
        MODELS.build(raw)


def test_dep_starts_from_a_random_encoder_and_trains_it():
    # the paper's DeP: no supervised (or any) encoder weights, encoder and decoder trained
    dep = Config.fromfile(osp.join(DDEP_CONFIGS,
                                   'dep_r50-vit-base-p16-unet1x_8xb64-adam-coslr-100e_in1k.py'))
    assert dep.model.backbone.checkpoint is None and dep.model.backbone.get('init_cfg') is None
    assert dep.model.freeze_encoder is False
    # the DDeP encoder and "DeP from a supervised init" do load the ImageNet-21k weights
    for name in ('ddep_r50-vit-base-p16-unet1x_8xb64-adam-coslr-100e_in1k.py',
                 'dep_r50-vit-base-p16-in21k-sup-init-unet1x_8xb64-adam-coslr-100e_in1k.py'):
        other = Config.fromfile(osp.join(DDEP_CONFIGS, name))
        assert other.model.backbone.checkpoint.endswith('orig_in21k.safetensors'), name

    # a narrow copy of the DeP config: initialising needs no file, a step trains the encoder
    # (its ResNet stem and its ViT blocks) as well as the decoder
    small = dict(embed_dim=32, depth=1, num_heads=2, img_size=32)
    torch.manual_seed(0)
    model = MODELS.build(dict(dep.model, backbone=dict(dep.model.backbone, **small),
                              neck=dict(dep.model.neck, widths=(16, 8, 8, 8, 8)),
                              data_preprocessor=dep.data_preprocessor))
    model.init_weights()
    model.train()
    assert model.backbone.training
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    wrapper = build_optim_wrapper(model, dep.optim_wrapper)
    model.train_step(dict(inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)] * 2),
                     wrapper)
    after = model.backbone.state_dict()
    for key in ('model.patch_embed.backbone.stem.conv.weight', 'model.blocks.0.attn.qkv.weight'):
        assert not torch.equal(after[key], before[key]), key


def expected_input_statistics(backbone: dict) -> tuple:
    """(mean, std) in 0-255 pixel values that a config's encoder was trained with: timm's
    pretrained_cfg of a TimmEncoder's model (read without weights), or the data preprocessor of
    the `make demo` MAE pretraining for its checkpoint; a mimlab ViT from scratch (DeP) keeps the
    demo's, so that the fine-tuning config that reads DDeP checkpoints reads it too."""
    if backbone.type in ('TimmEncoder', 'mimlab.TimmEncoder'):
        import timm
        pretrained = timm.models.get_pretrained_cfg(backbone.model_name)
        return ([255 * m for m in pretrained.mean], [255 * s for s in pretrained.std])
    if backbone.get('init_cfg') is not None:
        assert backbone.init_cfg.checkpoint == 'work_dirs/demo/epoch_6.pth', backbone.init_cfg
    makefile = open(osp.join(REPO, 'Makefile')).read()
    demo_config = re.search(r'^DEMO_CONFIG\s*:=\s*(\S+)', makefile, re.M).group(1)
    demo = Config.fromfile(osp.join(REPO, demo_config)).data_preprocessor
    return demo.mean, demo.std


@pytest.mark.parametrize('path', sorted(
    glob.glob(osp.join(DDEP_CONFIGS, '*.py'))
    + glob.glob(osp.join(REPO, 'configs/benchmarks/mmseg/unet-ddep_*.py'))))
def test_configs_feed_the_encoder_its_own_input_statistics(path):
    # timm's R50+ViT-B/16 (ImageNet-21k) wants [-1, 1] inputs, the demo MAE encoder
    # Fashion-MNIST's statistics; a frozen encoder cannot adapt to others, and the segmentation
    # fine-tuning must see what the DDeP/DeP pretraining saw
    cfg = Config.fromfile(path)
    preprocessor = cfg.model.data_preprocessor if 'mmseg' in path else cfg.data_preprocessor
    mean, std = expected_input_statistics(cfg.model.backbone)
    assert list(preprocessor.mean) == pytest.approx(mean)
    assert list(preprocessor.std) == pytest.approx(std)
