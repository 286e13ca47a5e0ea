"""The MAE ablation options: each changes the computation as stated."""
import numpy as np
import pytest
import torch
from conftest import DEMO_CONFIG, import_tool, tiny_mae_cfg
from mmengine.config import Config
from mmengine.dataset import Compose

from mimlab.datasets.transforms import AugmentationChoice, ColorJitter
from mimlab.models.utils import EncoderSpec, PatchMask, TokenLayout, fit_pca, unpatchify
from mimlab.registry import MODELS


def _block_inputs(model, images, generator):
    seen = []
    handle = model.backbone.blocks[0].register_forward_pre_hook(
        lambda module, args: seen.append(args[0].detach().clone()))
    latent = model.backbone.forward_masked(images, generator=generator)
    handle.remove()
    return latent, seen[0]


def test_mask_tokens_encoder_sees_all_patches_and_decoder_contract_holds():
    torch.manual_seed(0)
    images = torch.randn(3, 3, 16, 16)  # 16 patches, 4 kept at ratio 0.75
    plain = MODELS.build(tiny_mae_cfg())
    cfg = tiny_mae_cfg()
    cfg['backbone']['mask_tokens'] = True
    model = MODELS.build(cfg)
    model.load_state_dict(plain.state_dict(), strict=False)  # same weights but the new token

    latent_plain, seen_plain = _block_inputs(plain, images, torch.Generator().manual_seed(1))
    latent, seen = _block_inputs(model, images, torch.Generator().manual_seed(1))
    assert seen_plain.shape == (3, 1 + 4, 32)  # visible-only: cls + 4 patches
    assert seen.shape == (3, 1 + 16, 32)       # with mask tokens: cls + all 16
    assert latent.tokens.shape == (3, 17, 32)
    assert torch.equal(latent.mask, latent_plain.mask)

    # kept patches first, exactly the visible-only encoder's inputs; then the mask token + the
    # removed patches' own positions, which ids_restore puts back in patch order
    assert torch.allclose(seen[:, :5], seen_plain)
    restored = torch.gather(seen[:, 1:], 1, latent.ids_restore.unsqueeze(-1).expand(-1, -1, 32))
    positions = model.backbone.pos_embed[:, 1:].expand(3, -1, -1)
    removed = latent.mask
    assert torch.allclose(restored[removed], (model.backbone.mask_token + positions)[removed])

    # the removed patches' pixels cannot reach the encoder
    changed = images.clone()
    pixel_mask = unpatchify(removed.unsqueeze(-1).expand(-1, -1, 48).float(), 4, (4, 4), 3)
    changed += 100 * pixel_mask
    again = model.backbone.forward_masked(changed, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(again.tokens, latent.tokens, atol=1e-5)

    # the decoder takes the encoder's 16 tokens and adds none of its own mask tokens
    losses = model.loss(images)
    losses['loss_rec'].backward()
    assert model.backbone.mask_token.grad.abs().sum() > 0
    assert not model.neck.mask_token.grad.any()  # in the graph (DDP-safe), never used
    assert model.backbone.get_layer_depth('backbone.mask_token', 'backbone.') == (0, 4)


def _low_rank_patches(n: int, dim: int = 48):
    """Patches = mean + coefficients @ 4 orthonormal directions; the coefficients are centred
    and uncorrelated with sample variances exactly 9, 4, 1, 0.25."""
    generator = torch.Generator().manual_seed(0)
    basis, _ = torch.linalg.qr(torch.randn(dim, 4, generator=generator, dtype=torch.float64))
    raw = torch.randn(n, 4, generator=generator, dtype=torch.float64)
    unit, _ = torch.linalg.qr(raw - raw.mean(0))
    coefs = unit * (n - 1) ** 0.5 * torch.tensor([3.0, 2.0, 1.0, 0.5], dtype=torch.float64)
    mean = torch.randn(dim, generator=generator, dtype=torch.float64)
    return (mean + coefs @ basis.T).float(), basis.T.float(), coefs.float()


def test_pca_fit_recovers_a_low_rank_basis_with_the_expected_error():
    patches, basis, coefs = _low_rank_patches(16000)
    pca = fit_pca(patches, k=3)
    variance = coefs.var(0)
    assert torch.allclose(pca['explained_variance'], variance[:3], rtol=1e-3)
    assert pca['total_variance'] == pytest.approx(float(variance.sum()), rel=1e-3)
    # the three components span the three largest directions
    overlap = pca['components'] @ basis[:3].T
    assert torch.allclose(overlap.abs().max(1).values, torch.ones(3), atol=1e-5)
    # what k = 3 components leave out is the fourth direction: MSE = var_4 / D per value
    coded = (patches - pca['mean']) @ pca['components'].T
    rebuilt = coded @ pca['components'] + pca['mean']
    assert (rebuilt - patches).pow(2).mean() == pytest.approx(float(variance[3]) / 48, rel=1e-3)
    full = fit_pca(patches, k=4)
    rebuilt = ((patches - full['mean']) @ full['components'].T) @ full['components'] + full['mean']
    assert (rebuilt - patches).pow(2).mean() < 1e-9
    with pytest.raises(ValueError, match='k=49 must lie in'):
        fit_pca(patches, k=49)


def test_pca_target_regresses_the_top_k_coefficients(tmp_path):
    patches, basis, _ = _low_rank_patches(16 * 50)
    path = tmp_path / 'pca.pth'
    torch.save(fit_pca(patches, k=3), path)
    spec = EncoderSpec(in_chans=3, tokens=TokenLayout(embed_dim=32, depth=2, num_heads=2,
                                                      patch_size=4, grid_size=(4, 4)))
    head = MODELS.build(dict(type='PixelReconstructionHead', norm_pix=False, pca_file=str(path)),
                        default_args=dict(encoder_spec=spec))
    true = patches.view(50, 16, 48)
    images = unpatchify(true, 4, (4, 4), 3)
    assert head.target(images).shape == (50, 16, 3)
    # a perfect prediction, or one off only in the discarded direction, costs nothing ...
    every_patch = PatchMask.removing_all(50, 16)
    assert head.patch_losses(true, images, every_patch).abs().max() < 1e-8
    assert head.patch_losses(true + 5 * basis[3], images, every_patch).abs().max() < 1e-8
    # ... one off by 1 along the first component costs 1 of its k = 3 coefficients
    off = head.patch_losses(true + basis[0], images, every_patch)
    assert torch.allclose(off, torch.full_like(off, 1 / 3), atol=1e-4)
    # pictures: the prediction's projection onto the basis
    rebuilt = head.to_pixels(true, images)
    expected = ((true - head.pca_mean) @ basis[3]).pow(2).mean() / 48
    assert (rebuilt - true).pow(2).mean() == pytest.approx(float(expected), rel=1e-3)
    assert 'pca_components' in head.state_dict()  # the basis travels in checkpoints

    wrong = EncoderSpec(in_chans=3, tokens=TokenLayout(embed_dim=32, depth=2, num_heads=2,
                                                       patch_size=2, grid_size=(8, 8)))
    with pytest.raises(ValueError, match='the patches have 12 values'):
        MODELS.build(dict(type='PixelReconstructionHead', pca_file=str(path)),
                     default_args=dict(encoder_spec=wrong))
    with pytest.raises(FileNotFoundError, match='fit_patch_pca.py'):
        MODELS.build(dict(type='PixelReconstructionHead', pca_file=str(tmp_path / 'no.pth')),
                     default_args=dict(encoder_spec=spec))


def test_fit_patch_pca_tool_fits_the_heads_own_target(tmp_path):
    tool = import_tool('fit_patch_pca', 'tools/analysis_tools')
    out = tmp_path / 'pca.pth'
    options = ['model.backbone.arch.embed_dim=32', 'model.backbone.arch.depth=1',
               'model.backbone.arch.num_heads=2', 'model.neck.embed_dim=16',
               'model.neck.num_heads=2']
    result = tool.main([DEMO_CONFIG, '--k', '4', '--out', str(out), '--max-images', '20',
                        '--cfg-options', *options])
    assert result['num_patches'] == 20 * 49 and result['dim'] == 48
    state = torch.load(out, weights_only=True)
    assert state['components'].shape == (4, 48) and state['norm_pix'] is True
    # grey images repeated to 3 channels: the components are too
    comp = state['components'].view(4, 16, 3)
    assert torch.allclose(comp[..., 0], comp[..., 1], atol=1e-4)
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict({o.split('=')[0]: int(o.split('=')[1]) for o in options})
    cfg.model.head.pca_file = str(out)
    model = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    loss = model.loss(torch.randn(2, 3, 28, 28))['loss_rec']
    assert torch.isfinite(loss) and loss > 0


def _pipeline(choice: str) -> Compose:
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict({'train_dataloader.dataset.pipeline.1.choice': choice})
    return Compose(cfg.train_dataloader.dataset.pipeline)


def test_augmentation_choices_build_the_stated_pipelines():
    names = {}
    for choice in ('none', 'crop', 'crop_jitter'):
        pipeline = _pipeline(choice)
        chosen = pipeline.transforms[1]
        assert isinstance(chosen, AugmentationChoice) and chosen.choice == choice
        names[choice] = [type(t).__name__ for t in chosen.pipeline.transforms]
    assert names == dict(none=[], crop=['RandomResizedCrop', 'RandomFlip'],
                         crop_jitter=['RandomResizedCrop', 'RandomFlip', 'ColorJitter'])
    image = np.random.RandomState(0).randint(0, 256, (28, 28), dtype=np.uint8)
    out = _pipeline('none')(dict(img=image))
    assert torch.equal(out['inputs'][0], torch.from_numpy(image))  # untouched
    np.random.seed(0)
    crops = [_pipeline('crop')(dict(img=image))['inputs'] for _ in range(4)]
    assert any(not torch.equal(c[0], torch.from_numpy(image)) for c in crops)
    with pytest.raises(KeyError, match="choice='flip' is not one of"):
        _pipeline('flip')


def test_color_jitter_factors():
    img = np.full((4, 4, 3), 100, dtype=np.uint8)
    img[0, 0] = 200  # grey mean: (15 * 100 + 200) / 16 = 106.25 -> 106
    np.random.seed(3)
    factor_b = np.random.uniform(0.6, 1.4)
    factor_c = np.random.uniform(0.6, 1.4)
    np.random.seed(3)
    out = ColorJitter(brightness=0.4, contrast=0.4)(dict(img=img.copy()))['img']
    bright = np.clip(img.astype(np.float32) * factor_b, 0, 255).astype(np.uint8)
    mean = round(float(np.mean(bright[..., 0])))
    expected = np.clip(bright.astype(np.float32) * factor_c + mean * (1 - factor_c), 0, 255)
    assert np.abs(out.astype(np.float32) - expected.astype(np.uint8)).max() <= 1
    assert (out[..., 0] == out[..., 1]).all()  # grey stays grey
    untouched = ColorJitter(brightness=0, contrast=0)(dict(img=img.copy()))['img']
    assert np.array_equal(untouched, img)


def test_step_time_tool_times_a_real_training_step(tmp_path):
    from conftest import TINY_RUN
    tool = import_tool('step_time', 'tools/analysis_tools')
    options = [f'{k}={v}' for k, v in TINY_RUN.items() if k.startswith('model.')]
    result = tool.main([DEMO_CONFIG, '--iters', '2', '--warmup', '1', '--batch-size', '4',
                        '--out', str(tmp_path / 't.json'), '--cfg-options', *options,
                        'model.backbone.mask_tokens=True'])
    assert result['cfg_options']['model.backbone.mask_tokens'] is True
    assert result['cpu_s_per_step'] > 0 and result['wall_s_per_step'] > 0
    assert result['batch_size'] == 4 and result['threads'] == torch.get_num_threads()
    assert result['compile_backend'] is None and result['first_step_s'] > 0


def test_step_time_tool_prints_the_profile(capsys):
    from conftest import TINY_RUN
    tool = import_tool('step_time', 'tools/analysis_tools')
    tool.main([DEMO_CONFIG, '--iters', '1', '--warmup', '1', '--batch-size', '4', '--profile',
               '5', '--cfg-options', *[f'{k}={v}' for k, v in TINY_RUN.items()
                                      if k.startswith('model.')]])
    table = capsys.readouterr().out.split('}')[-1]
    rows = [line for line in table.splitlines() if '%' in line and 'Name' not in line]
    assert 'Self CPU' in table and len(rows) == 5 and any('aten::' in row for row in rows)


def test_step_time_tool_compiles_the_loss():
    from torch._dynamo.utils import counters

    from conftest import TINY_RUN
    tool = import_tool('step_time', 'tools/analysis_tools')
    options = ['--iters', '1', '--warmup', '1', '--batch-size', '4', '--cfg-options',
               *[f'{k}={v}' for k, v in TINY_RUN.items() if k.startswith('model.')]]
    eager = tool.main([DEMO_CONFIG, *options])
    counters.clear()
    compiled = tool.main([DEMO_CONFIG, '--compile', 'aot_eager', *options])
    assert compiled['compile_backend'] == 'aot_eager'
    assert counters['stats']['unique_graphs'] >= 1  # dynamo traced the loss
    # the same model and batch (the masks are drawn differently once compiled)
    assert abs(compiled['first_loss'] - eager['first_loss']) < 0.1 * eager['first_loss']
