import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from conftest import FASHION_MNIST, tiny_mae_cfg

from mimlab.datasets import ImageDataset
from mimlab.evaluation import radial_log_amplitude, top_hessian_eigenvalue
from mimlab.models.heads import PixelReconstructionHead
from mimlab.models.necks import MultiLevelFusionNeck, default_fusion_layers
from mimlab.models.utils import EncoderSpec, PixelNormalisation, TokenLayout, low_pass
from mimlab.registry import MODELS


def _mff_cfg(**fusion):
    cfg = tiny_mae_cfg()
    cfg['backbone']['arch'] = dict(embed_dim=32, depth=4, num_heads=2)
    cfg.update(type='MFF', fusion_neck=dict(type='MultiLevelFusionNeck', **fusion))
    return cfg


def test_default_layers_follow_the_paper():
    assert default_fusion_layers(12) == (0, 2, 4, 6, 8)
    assert default_fusion_layers(24) == (0, 4, 8, 12, 16)


def test_fusion_weights_sum_to_one_and_get_gradients():
    model = MODELS.build(_mff_cfg(layers=(0, 1)))
    weights = model.fusion_neck.fusion_weights()
    assert weights.shape == (3,) and torch.allclose(weights, torch.full((3,), 1 / 3))
    losses = model.loss(torch.randn(4, 3, 16, 16))
    assert math.isclose(sum(float(losses[f'fusion_w_b{b}']) for b in (0, 1, 3)), 1.0,
                        rel_tol=1e-6)
    losses['loss_rec'].backward()
    assert model.fusion_neck.fusion_logits.grad.abs().sum() > 0
    assert model.fusion_neck.projections[0].weight.grad.abs().sum() > 0
    assert model.backbone.blocks[0].attn.qkv.weight.grad.abs().sum() > 0


def test_plain_mae_takes_no_fusion_neck():
    from mimlab.registry import UnknownArgumentError
    with pytest.raises(UnknownArgumentError, match="MAE has no argument 'fusion_neck'"):
        MODELS.build(dict(tiny_mae_cfg(), fusion_neck=dict(type='MultiLevelFusionNeck')))
    assert type(MODELS.build(_mff_cfg(layers=(0,)))).__name__ == 'MFF'


def test_fusing_only_the_last_layer_is_exactly_mae():
    torch.manual_seed(0)
    mae_cfg = _mff_cfg()
    del mae_cfg['fusion_neck']
    mae = MODELS.build(dict(mae_cfg, type='MAE'))
    mff = MODELS.build(_mff_cfg(layers=()))
    missing, unexpected = mff.load_state_dict(mae.state_dict(), strict=False)
    assert missing == ['fusion_neck.fusion_logits'] and unexpected == []
    x = torch.randn(3, 3, 16, 16)
    torch.manual_seed(5)
    a = mae.loss(x)['loss_rec']
    torch.manual_seed(5)
    b = mff.loss(x)['loss_rec']
    assert torch.equal(a, b)


def test_attention_fusion_and_mlp_projection():
    model = MODELS.build(_mff_cfg(layers=(1,), fusion='attention', projection='mlp'))
    assert model.fusion_neck.fusion_weights() is None
    losses = model.loss(torch.randn(2, 3, 16, 16))
    assert set(losses) == {'loss_rec'}
    losses['loss_rec'].backward()
    assert model.fusion_neck.fusion_block.attn.qkv.weight.grad.abs().sum() > 0
    assert isinstance(model.fusion_neck.projections[0], torch.nn.Sequential)


def test_bad_layers_name_the_key():
    spec = MODELS.build(_mff_cfg()).backbone.spec
    with pytest.raises(ValueError, match=r'fusion neck layers=\[0, 3\]'):
        MultiLevelFusionNeck(spec, layers=(0, 3))  # 3 is the last block of 4
    with pytest.raises(ValueError, match='fusion must be one of'):
        MultiLevelFusionNeck(spec, fusion='sum')


def _wave(freq_y, freq_x, size=16):
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing='ij')
    return torch.cos(2 * math.pi * (freq_y * y + freq_x * x) / size)


def test_low_pass_keeps_low_and_removes_high_frequencies():
    low, high = _wave(0, 2), _wave(5, 0)
    image = (100 + 40 * low + 30 * high).expand(2, 3, 16, 16)
    filtered = low_pass(image, radius=3)
    assert torch.allclose(filtered, (100 + 40 * low).expand(2, 3, 16, 16), atol=1e-3)


def test_low_frequency_target_uses_preprocessor_normalisation():
    cfg = tiny_mae_cfg()
    cfg['head']['low_pass_radius'] = 2
    cfg['data_preprocessor'] = dict(type='ImgDataPreprocessor', mean=[100.0] * 3,
                                    std=[50.0] * 3)
    model = MODELS.build(cfg)
    spec = model.head.pixel_target.encoder_spec  # the preprocessor's normalisation reaches it
    assert spec.pixels.mean == (100.0,) * 3 and spec.pixels.std == (50.0,) * 3
    pixels = (128 + 120 * _wave(1, 0) + 60 * _wave(0, 6)).expand(1, 3, 16, 16)
    normalised = (pixels - 100) / 50
    target = model.head.pixel_target.low_frequency(normalised) * 50 + 100
    expected = (128 + 120 * _wave(1, 0)).expand(1, 3, 16, 16)  # the high band is gone
    assert torch.allclose(target, expected, atol=1e-2)


def pixmim_reference_target(imgs: torch.Tensor, radius: int) -> torch.Tensor:
    """PixMIM's target as its reference computes it, ported step by step from mmselfsup 1.x
    ``LowFreqTargetGenerator`` (``_generate_low_pass_filter`` and ``forward``): a disc of the
    given radius around ((h-1)/2, (w-1)/2) of the fftshift-ed spectrum, built pixel by pixel; the
    inverse FFT of the shifted, filtered spectrum (no ifftshift); its modulus. Inputs are
    ImageNet-normalised 0-1 images, as the reference hard-codes."""
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    h, w = imgs.shape[-2:]
    lpf = torch.ones(3, h, w)
    for i in range(h):
        for j in range(w):
            if (i - (h - 1) / 2) ** 2 + (j - (w - 1) / 2) ** 2 > radius ** 2:
                lpf[:, i, j] = 0
    freq = torch.fft.fftshift(torch.fft.fft2(imgs * std + mean), dim=(-2, -1))
    low = torch.abs(torch.fft.ifft2(freq * lpf))
    return (low - mean) / std


@pytest.mark.skipif(not osp.isdir(FASHION_MNIST), reason='Fashion-MNIST is not installed')
@pytest.mark.parametrize('size, radius', [(28, 5), (32, 6), (31, 4)])
def test_low_pass_target_equals_pixmim_reference_on_real_images(size, radius):
    """The head's target (pixel scale 0-255, the preprocessor's statistics) equals the
    reference's on Fashion-MNIST images, even and odd sizes. Before the fix (real part of an
    unshifted, centred filter, clipped) they differed by 0.59-0.94 in normalised units on these images."""
    raw = ImageDataset(FASHION_MNIST, split='test')
    gray = torch.stack([torch.tensor(raw.get_data_info(i)['img']).float() for i in range(4)])
    rgb = torch.stack([gray, gray.flip(-1), gray.flip(-2)], dim=1)  # three different channels
    rgb = F.interpolate(rgb, size=(size, size), mode='bilinear', align_corners=False)
    mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    spec = EncoderSpec(in_chans=3, tokens=TokenLayout(
        embed_dim=32, depth=2, num_heads=2, patch_size=1, grid_size=(size, size))).normalised_by(
            PixelNormalisation.of(mean, std))
    head = PixelReconstructionHead(spec, low_pass_radius=radius)
    normalised = (rgb - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    ours = head.pixel_target.low_frequency(normalised)
    reference = pixmim_reference_target(normalised, radius)
    assert (ours - reference).abs().max() < 1e-4


def test_radial_log_amplitude_finds_the_band_of_a_wave():
    maps = torch.stack([_wave(0, 3), _wave(3, 0)]).unsqueeze(0)  # (1, 2, 16, 16)
    bands = radial_log_amplitude(maps)
    assert len(bands) == 12  # radii 0 .. round(sqrt(8^2 + 8^2)) = 11
    assert int(bands.argmax()) == 3
    # each cosine puts 16 * 16 / 2 = 128 into two bins at radius 3; averaged over the two
    # channels that is 64 in four bins, spread over the bins of band 3; nothing elsewhere
    ring = (torch.fft.fftfreq(16)[:, None] ** 2 + torch.fft.fftfreq(16)[None] ** 2).sqrt() * 16
    n3 = int((ring.round() == 3).sum())
    assert bands[3] == pytest.approx(math.log(4 * 64 / n3), rel=1e-4)
    assert bands[0] < -10 and bands[5] < -10


def test_power_iteration_finds_top_eigenvalue_of_a_quadratic():
    torch.manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(6, 6))
    eig = torch.tensor([5.0, 2.0, 1.0, 0.5, -1.0, 0.1])
    hessian = q @ torch.diag(eig) @ q.T
    x = torch.randn(6, requires_grad=True)
    result = top_hessian_eigenvalue(lambda: 0.5 * x @ hessian @ x, [x], iters=100, tol=1e-7)
    assert result['eigenvalue'] == pytest.approx(5.0, rel=1e-3)


def test_fusion_neck_plugs_into_supervised_classification():
    from mmengine.structures import BaseDataElement
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='VisionTransformer', arch=dict(embed_dim=32, depth=3, num_heads=2),
                      img_size=16, patch_size=4),
        fusion_neck=dict(type='MultiLevelFusionNeck', layers=(0,)),
        head=dict(type='LinearClsHead', num_classes=3),
        data_preprocessor=dict(type='ImgDataPreprocessor', mean=[0.0] * 3, std=[1.0] * 3)))
    # three classes: flat, vertical stripes, horizontal stripes; a few steps must learn them
    patterns = [torch.zeros(3, 16, 16), torch.zeros(3, 16, 16), torch.zeros(3, 16, 16)]
    patterns[1][:, :, ::2] = 1
    patterns[2][:, ::2, :] = 1
    images = [(p * 200 + 20).to(torch.uint8) for p in patterns] * 4
    samples = [BaseDataElement(gt_label=torch.tensor(c)) for c in (0, 1, 2)] * 4
    data = dict(inputs=images, data_samples=samples)
    from mmengine.optim import OptimWrapper
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=3e-3))
    for _ in range(40):
        log = model.train_step(data, wrapper)
    assert {'loss_cls', 'accuracy', 'fusion_w_b0', 'fusion_w_b2'} <= set(log)
    assert float(log['fusion_w_b0']) + float(log['fusion_w_b2']) == pytest.approx(1.0)
    preds = model.test_step(data)
    assert [p['pred_label'] for p in preds] == [p['gt_label'] for p in preds]
    assert model.fusion_neck.fusion_logits.abs().sum() > 0  # the weights were trained
