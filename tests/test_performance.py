"""The fast paths compute what the plain ones do: SDPA attention, bf16 autocast, fused AdamW,
activation checkpointing, torch.compile, and the JPEG pipeline's reduced decode."""
import copy

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_mae_cfg
from mmengine.optim import OptimWrapper
from mmengine.structures import BaseDataElement

from mimlab.datasets import ImageDataset
from mimlab.datasets.jpeg_folder import write_jpeg_folder
from mimlab.datasets.transforms import LoadImage, RandomResizedCrop
from mimlab.datasets.transforms.loading import decode_crop_bgr, jpeg_size
from mimlab.engine import AutocastOptimWrapper
from mimlab.registry import MODELS
from mimlab.utils.profiling import count_flops


def _reference_attention(attn: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Softmax(Q K^T / sqrt(d)) V written out, with the module's own weights."""
    b, n, c = x.shape
    h = attn.num_heads
    q, k, v = attn.qkv(x).reshape(b, n, 3, h, c // h).permute(2, 0, 3, 1, 4)
    weights = (q @ k.transpose(-2, -1) / (c // h) ** 0.5).softmax(dim=-1)
    return attn.proj((weights @ v).transpose(1, 2).reshape(b, n, c))


def test_attention_runs_sdpa_and_matches_the_reference():
    torch.manual_seed(0)
    vit = MODELS.build(dict(type='VisionTransformer', arch=dict(embed_dim=32, depth=2,
                                                                num_heads=4),
                            img_size=16, patch_size=4, out_type='raw'))
    attn = vit.blocks[0].attn
    assert attn.fused_attn  # F.scaled_dot_product_attention is what runs
    x = torch.randn(3, 17, 32)
    calls = []
    original = F.scaled_dot_product_attention

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    F.scaled_dot_product_attention = spy
    try:
        out = attn(x)
    finally:
        F.scaled_dot_product_attention = original
    assert calls
    torch.testing.assert_close(out, _reference_attention(attn, x), atol=1e-5, rtol=1e-5)


def _tiny_mae(seed=0, **backbone):
    torch.manual_seed(seed)
    cfg = tiny_mae_cfg()
    cfg['backbone'].update(backbone)
    return MODELS.build(cfg)


def _loss(model, images, optim_wrapper):
    torch.manual_seed(1)  # the same masks
    with optim_wrapper.optim_context(model):
        return model.loss(images)['loss_rec']


def test_bf16_autocast_loss_agrees_with_fp32():
    model = _tiny_mae()
    images = torch.randn(4, 3, 16, 16)
    fp32 = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    bf16 = AutocastOptimWrapper(optimizer=torch.optim.AdamW(model.parameters(), lr=1e-3))
    seen = []
    handle = model.backbone.blocks[0].mlp.fc1.register_forward_hook(
        lambda m, i, o: seen.append(o.dtype))
    loss32 = _loss(model, images, fp32)
    loss16 = _loss(model, images, bf16)
    handle.remove()
    assert seen == [torch.float32, torch.bfloat16]  # autocast really ran on the CPU
    assert loss16.dtype == torch.float32  # the loss itself is kept in fp32
    assert abs(loss16.item() - loss32.item()) / loss32.item() < 2e-2
    before = copy.deepcopy(model.state_dict())
    bf16.update_params(loss16)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert not torch.equal(before['backbone.blocks.0.attn.qkv.weight'],
                           model.state_dict()['backbone.blocks.0.attn.qkv.weight'])


def test_autocast_wrapper_rejects_an_unknown_dtype():
    model = _tiny_mae()
    with pytest.raises(ValueError, match='optim_wrapper.dtype'):
        AutocastOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                             dtype='int8')


def test_fused_adamw_matches_the_plain_loop():
    models = [_tiny_mae(), _tiny_mae()]
    optims = [torch.optim.AdamW(models[0].parameters(), lr=1e-2, foreach=False),
              torch.optim.AdamW(models[1].parameters(), lr=1e-2, fused=True)]
    gen = torch.Generator().manual_seed(0)
    # the same gradients for both (a model's own would differ in float noise, e.g. the key
    # bias, whose true gradient is 0, and Adam scales noise up to the lr)
    grads = [[torch.randn(p.shape, generator=gen) for p in models[0].parameters()]
             for _ in range(3)]
    for step_grads in grads:
        for model, optim in zip(models, optims):
            for p, g in zip(model.parameters(), step_grads):
                p.grad = g.clone()
            optim.step()
    for (name, a), b in zip(models[0].named_parameters(), models[1].parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=name)
    assert not torch.equal(models[0].backbone.cls_token, _tiny_mae().backbone.cls_token)


def test_activation_checkpointing_gives_the_same_loss_and_gradients():
    plain, ckpt = _tiny_mae(drop_path_rate=0.1), _tiny_mae(drop_path_rate=0.1, with_cp=True)
    ckpt.load_state_dict(plain.state_dict())
    images = torch.randn(2, 3, 16, 16)
    losses = []
    for model in (plain, ckpt):
        torch.manual_seed(3)  # the same masks and drop-path draws
        loss = model.loss(images)['loss_rec']
        loss.backward()
        losses.append(loss)
    torch.testing.assert_close(losses[0], losses[1])
    for (name, a), b in zip(plain.named_parameters(), ckpt.parameters()):
        if a.grad is not None:
            torch.testing.assert_close(a.grad, b.grad, atol=1e-6, rtol=1e-5, msg=name)
    # fewer activations kept: the checkpointed forward saves less for backward
    assert ckpt.backbone.with_cp and not plain.backbone.with_cp


def test_compiled_model_agrees_with_eager():
    # aot_eager: dynamo's graph capture and AOT autograd (forward and backward graphs), the
    # parts that change what is computed; inductor's C++ code generation works here too (the
    # benchmark uses it) but compiling even a tiny model takes a minute on two shared cores.
    model = _tiny_mae()
    images = torch.randn(2, 3, 16, 16)
    compiled = torch.compile(model.backbone.forward_masked, backend='aot_eager', fullgraph=True)
    outs = []
    for forward_masked in (model.backbone.forward_masked, compiled):
        torch.manual_seed(0)
        out = forward_masked(images)
        out.tokens.square().mean().backward()
        outs.append((out.tokens.detach(), out.mask,
                     model.backbone.blocks[0].attn.qkv.weight.grad.clone()))
        model.zero_grad()
    torch.testing.assert_close(outs[1][0], outs[0][0], atol=1e-5, rtol=1e-4)
    assert torch.equal(outs[1][1], outs[0][1])  # the same masks from the same seed
    torch.testing.assert_close(outs[1][2], outs[0][2], atol=1e-5, rtol=1e-4)


def test_flop_counter_counts_the_masked_encoder_by_visible_tokens():
    model = _tiny_mae()
    images = torch.randn(2, 3, 16, 16)  # 16 patches, mask 0.75 keeps 4 (+ cls) of them
    flops = count_flops(lambda: model(images, mode='loss'))
    dim, tokens, blocks = 32, 5, 2
    # per block and image: qkv 3, proj 1, MLP 8 matmuls of (tokens x dim x dim), attention 2
    # of (tokens x tokens x dim); a multiply-add is 2 FLOPs
    per_block = 2 * tokens * dim * dim * (3 + 1 + 8) + 2 * 2 * tokens * tokens * dim
    patch_embed = 2 * 16 * (4 * 4 * 3) * dim  # the conv runs on all 16 patches
    # the masked path is a method (forward_masked), not the module's call: its parts are counted
    encoder = sum(flops[f'MAE.backbone.{part}'] for part in ('patch_embed', 'blocks.0',
                                                              'blocks.1'))
    assert encoder == 2 * (blocks * per_block + patch_embed)
    assert flops['total'] > encoder


# --- the JPEG pipeline: deferred, reduced decode against the plain transforms


@pytest.fixture(scope='module')
def jpegs(tmp_path_factory):
    folder = tmp_path_factory.mktemp('jpegs')
    try:
        return write_jpeg_folder(str(folder), num_images=4,
                                 sizes=[(375, 500), (333, 500), (768, 1024), (500, 375)])
    except ImportError:
        pytest.skip('scikit-image (requirements/benchmark.txt) is not installed')


def _plain_rrc(path, rrc, seed):
    np.random.seed(seed)
    results = LoadImage()(dict(img_path=path))
    return rrc(results)['img']


def _deferred_rrc(path, rrc, seed):
    np.random.seed(seed)
    results = LoadImage(defer_decode=True)(dict(img_path=path))
    assert 'img' not in results and results['ori_shape'] == jpeg_size(open(path, 'rb').read())
    return rrc(results)['img']


def test_deferred_decode_is_exact_when_the_crop_needs_full_resolution(jpegs):
    rrc = RandomResizedCrop(224, scale=(0.2, 1.0))
    for path in jpegs[:2]:  # 500 x 375: every crop is narrower than 2 x 224, so scale 1
        for seed in range(5):
            out = _deferred_rrc(path, rrc, seed)
            assert out.shape == (224, 224, 3) and out.dtype == np.uint8
            np.testing.assert_array_equal(out, _plain_rrc(path, rrc, seed))
    # and the plain transform is what one writes by hand: OpenCV's decode, PIL's resize
    from PIL import Image
    np.random.seed(0)
    top, left, h, w = rrc.crop_box(375, 500)
    rgb = cv2.cvtColor(cv2.imread(jpegs[0]), cv2.COLOR_BGR2RGB)
    by_hand = np.asarray(Image.fromarray(rgb[top:top + h, left:left + w]).resize(
        (224, 224), Image.BICUBIC))
    np.testing.assert_array_equal(_plain_rrc(jpegs[0], rrc, 0), by_hand)


def test_reduced_decode_stays_within_tolerance(jpegs):
    path = jpegs[2]  # 1024 x 768
    data = open(path, 'rb').read()
    crop = decode_crop_bgr(data, (100, 200, 600, 700), (224, 224), path)
    assert crop.shape[:2] == (300, 350)  # decoded at 1/2 scale: 4x fewer pixels
    crop = decode_crop_bgr(data, (0, 0, 768, 1024), (96, 96), path)
    assert crop.shape[:2] == (96, 128)  # 1/8 scale
    rrc = RandomResizedCrop(96, scale=(0.5, 1.0))
    mad, psnr = [], []
    for seed in range(5):
        fast = _deferred_rrc(path, rrc, seed).astype(np.float64)
        plain = _plain_rrc(path, rrc, seed).astype(np.float64)
        mad.append(np.abs(fast - plain).mean())
        psnr.append(10 * np.log10(255 ** 2 / ((fast - plain) ** 2).mean()))
    # the DCT-scaled decode antialiases where a plain bicubic downscale aliases: the pictures
    # agree to a few grey levels on average (over 20 crops: mean 6.8, PSNR median 25, min 22.5)
    assert np.mean(mad) < 8 and min(psnr) > 20 and np.median(psnr) > 24


def test_deferred_decode_falls_back_for_png_and_rotated_jpeg(tmp_path, jpegs):
    img = cv2.imread(jpegs[0])
    png = str(tmp_path / 'a.png')
    cv2.imwrite(png, img)
    results = LoadImage(defer_decode=True)(dict(img_path=png))
    assert results['img'].shape == (375, 500, 3)  # decoded at once
    from PIL import Image
    rotated = str(tmp_path / 'rotated.jpg')
    im = Image.open(jpegs[0])
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    im.save(rotated, exif=exif)
    assert jpeg_size(open(rotated, 'rb').read()) is None
    results = LoadImage(defer_decode=True)(dict(img_path=rotated))
    assert results['img'].shape == (500, 375, 3)  # the decoder applied the rotation


def test_imagenet_pipeline_with_deferred_decode_matches_the_plain_one(jpegs):
    from mmengine.config import Config
    cfg = Config.fromfile('configs/_base_/datasets/imagenet_mae.py')
    fast_pipeline = cfg.train_pipeline
    assert fast_pipeline[0] == dict(type='LoadImage', defer_decode=True)
    plain_pipeline = [dict(type='LoadImage')] + fast_pipeline[1:]
    folder = jpegs[0].rsplit('/', 1)[0]
    fast = ImageDataset(folder, pipeline=fast_pipeline, indices=2)
    plain = ImageDataset(folder, pipeline=plain_pipeline, indices=2)
    for i in range(2):
        for seed in range(3):
            np.random.seed(seed)
            a = fast[i]
            np.random.seed(seed)
            b = plain[i]
            assert a['inputs'].dtype == torch.uint8  # uint8 until the data preprocessor
            assert torch.equal(a['inputs'], b['inputs'])


def test_pack_keeps_uint8_and_the_preprocessor_normalises_a_stacked_batch():
    from mmengine.dataset import default_collate, pseudo_collate
    pre = MODELS.build(dict(type='ImgDataPreprocessor', mean=[1.0, 2.0, 3.0],
                            std=[2.0, 2.0, 2.0]))
    imgs = [torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8) for _ in range(3)]
    samples = [dict(inputs=im, data_samples=BaseDataElement()) for im in imgs]
    stacked = pre(default_collate(samples), True)['inputs']
    listed = pre(pseudo_collate(samples), True)['inputs']
    expected = (torch.stack(imgs).float() - torch.tensor([1., 2., 3.]).view(1, 3, 1, 1)) / 2
    torch.testing.assert_close(stacked, expected)
    torch.testing.assert_close(listed, expected)


def test_one_amp_switch_for_train_and_benchmark(tmp_path):
    from conftest import DEMO_CONFIG, import_tool
    from mmengine.config import Config

    from mimlab.apis.train import training_config
    from mimlab.engine.errors import ConfigError
    from mimlab.engine.optimizers import set_amp
    optimizer = dict(type='AdamW', lr=1e-3)
    bf16 = dict(optimizer=optimizer)
    set_amp(bf16, 'bf16', 'cpu')
    assert bf16 == dict(type='AutocastOptimWrapper', dtype='bfloat16', optimizer=optimizer)
    fp16 = dict(type='OptimWrapper', optimizer=optimizer)
    set_amp(fp16, 'fp16', 'cuda:1')
    assert fp16 == dict(type='AmpOptimWrapper', dtype='float16', loss_scale='dynamic',
                        optimizer=optimizer)
    plain = dict(optimizer=optimizer)
    set_amp(plain, None, 'cpu')
    assert plain == dict(optimizer=optimizer)
    with pytest.raises(ConfigError, match='--amp fp16 needs a CUDA GPU'):
        set_amp(dict(optimizer=optimizer), 'fp16', 'cpu')
    with pytest.raises(ConfigError, match='already uses AmpOptimWrapper'):
        set_amp(dict(fp16), 'bf16', 'cpu')

    # both tools go through it
    train = import_tool('train')
    assert train.parse_args([DEMO_CONFIG, '--amp']).amp == 'fp16'  # the old flag still works
    cfg = training_config(Config.fromfile(DEMO_CONFIG), amp='bf16', work_dir=str(tmp_path))
    assert (cfg.optim_wrapper.type, cfg.optim_wrapper.dtype) == ('AutocastOptimWrapper',
                                                                 'bfloat16')
    from mimlab.experiments.benchmark import benchmark_config
    benchmark = import_tool('benchmark', 'tools/analysis_tools')
    args = benchmark.parse_args([DEMO_CONFIG, '--amp', 'bf16', '--device', 'cpu'])
    cfg = benchmark_config(args.config, amp=args.amp, device=args.device)
    assert (cfg.optim_wrapper.type, cfg.optim_wrapper.dtype) == ('AutocastOptimWrapper',
                                                                 'bfloat16')
    with pytest.raises(SystemExit, match='--amp fp16 needs a CUDA GPU'):
        benchmark.main([DEMO_CONFIG, '--amp', 'fp16', '--device', 'cpu'])


def test_mask_cost_builds_each_ratio_so_the_backbone_validates_it():
    from conftest import DEMO_CONFIG, TINY_RUN
    from mmengine.config import Config

    from mimlab.experiments import mask_cost
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict({k: v for k, v in TINY_RUN.items() if k.startswith('model.')})
    rows = mask_cost.measure(cfg, img_size=16, mask_ratios=[0.5, 0.75], batch_size=2, iters=1,
                             warmup=0)
    assert [(r['num_patches'], r['visible']) for r in rows] == [(16, 8), (16, 4)]
    # fewer visible patches, fewer encoder FLOPs
    assert rows[1]['encoder_gflops_per_image'] < rows[0]['encoder_gflops_per_image']
    assert cfg.model.backbone.mask_ratio == 0.75 and cfg.model.backbone.img_size == 28  # kept
    with pytest.raises(ValueError, match='mask_ratio'):
        mask_cost.measure(cfg, img_size=16, mask_ratios=[1.0], batch_size=2, iters=1, warmup=0)


def test_autocast_native_only_and_the_cpu_attention_path(monkeypatch):
    from torch.profiler import profile

    from mimlab.engine.optimizers import autocast_wrapper
    model = _tiny_mae()
    images = torch.randn(2, 3, 16, 16)
    for native, expected in ((False, torch.float32), (True, torch.bfloat16)):
        monkeypatch.setattr(autocast_wrapper, 'cpu_has_native_bf16', lambda: native)
        wrapper = AutocastOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                                       native_only=True)
        seen = []
        handle = model.backbone.blocks[0].mlp.fc1.register_forward_hook(
            lambda m, i, o: seen.append(o.dtype))
        with profile() as prof:
            _loss(model, images, wrapper)
        handle.remove()
        assert seen == [expected]  # float32 on a CPU without native bf16
        ops = {e.key for e in prof.key_averages()}
        # bf16 on the CPU: SDPA's math path, not the fused kernel with the slow bf16 backward
        assert ('aten::_scaled_dot_product_flash_attention_for_cpu' in ops) is (not native)


def test_img_data_preprocessor_gives_mmengines_tensors_without_per_sample_copies():
    """mimlab's ImgDataPreprocessor (what configs naming ``ImgDataPreprocessor`` build in
    mimlab's scope) stacks a batch of same-size uint8 images before normalising: the same
    tensors as mmengine's, bit for bit, with BGR->RGB and padding too; on the CPU the data
    samples are the dataset's own objects (mmengine copies each one and its metainfo)."""
    from mmengine.model import ImgDataPreprocessor as MMEngineImgDataPreprocessor
    from mmengine.registry import DefaultScope
    from mmengine.structures import BaseDataElement

    import mimlab.models  # noqa: F401  (registration)
    from mimlab.models.data_preprocessors import ImgDataPreprocessor
    from mimlab.registry import MODELS

    g = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, 14, 13), dtype=torch.uint8, generator=g)
              for _ in range(6)]
    samples = [BaseDataElement(metainfo=dict(sample_idx=i)) for i in range(6)]
    for kwargs in (dict(mean=[72.9, 60.1, 50.5], std=[90.0, 80.2, 70.3]),
                   dict(mean=[1.0, 2.0, 3.0], std=[4.0, 5.0, 6.0], bgr_to_rgb=True,
                        pad_size_divisor=4, pad_value=7),
                   dict()):
        with DefaultScope.overwrite_default_scope('mimlab'):
            ours = MODELS.build(dict(type='ImgDataPreprocessor', **kwargs))
        assert type(ours) is ImgDataPreprocessor
        theirs = MMEngineImgDataPreprocessor(**kwargs)
        out = ours(dict(inputs=images, data_samples=samples))
        ref = theirs(dict(inputs=images, data_samples=samples))
        assert out['inputs'].dtype == ref['inputs'].dtype == torch.float32
        assert out['inputs'].shape == ref['inputs'].shape
        assert torch.equal(out['inputs'], ref['inputs'])
        assert all(a is b for a, b in zip(out['data_samples'], samples))
        assert [s.sample_idx for s in ref['data_samples']] == list(range(6))
    # images of different sizes: mmengine's per-image path (padded to the largest)
    mixed = [images[0], images[1][:, :12, :11]]
    ours_mixed = ours(dict(inputs=mixed, data_samples=samples[:2]))['inputs']
    assert torch.equal(ours_mixed, theirs(dict(inputs=mixed, data_samples=samples[:2]))['inputs'])
    assert ours_mixed.shape == (2, 3, 14, 13)


def test_pack_inputs_keeps_metainfo_values_and_copies_only_mutable_ones():
    from mimlab.datasets.transforms import PackInputs

    crop = [1, 2, 3]
    packed = PackInputs(meta_keys=('sample_idx', 'img_shape', 'crop', 'img_path'))(
        dict(img=np.zeros((4, 5, 3), np.uint8), sample_idx=7, img_shape=(4, 5), crop=crop,
             gt_label=3))
    sample = packed['data_samples']
    assert sample.metainfo == dict(sample_idx=7, img_shape=(4, 5), crop=[1, 2, 3])
    assert sample.crop == crop and sample.crop is not crop  # a list is copied
    assert int(sample.gt_label) == 3 and packed['inputs'].shape == (3, 4, 5)
