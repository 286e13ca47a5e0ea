"""CAE: block masking, the regressor's attention rule, alignment, token targets, the dVAE
tokenizer and the DALL-E key layout."""
import math

import pytest
import torch
import torch.nn.functional as F

from mimlab.models.utils import PatchMask, generate_mask
from mimlab.registry import MODELS

DVAE = dict(type='DiscreteVAE', vocab_size=16, hidden_dim=16, code_dim=8, num_downsamples=2,
            num_res_blocks=1)


def tiny_cae_cfg(head: str = 'pixel', align_weight: float = 2.0, momentum: float = 0.0,
                 regressor_depth: int = 2) -> dict:
    heads = dict(pixel=dict(type='CAEPixelHead', norm_pix=False),
                 token=dict(type='DVAETokenHead', tokenizer=DVAE))
    return dict(
        type='CAE',
        backbone=dict(type='MaskedViT', arch=dict(embed_dim=32, depth=2, num_heads=2),
                      img_size=16, patch_size=4, mask_ratio=6 / 16, mask_mode='block',
                      block_min_patches=2),
        neck=dict(type='LatentContextualRegressor', depth=regressor_depth),
        decoder=dict(type='CAEPretrainDecoder', depth=1),
        head=heads[head], align_weight=align_weight, momentum=momentum,
        data_preprocessor=dict(type='ImgDataPreprocessor', mean=[0.0] * 3, std=[1.0] * 3))


def _components(mask: torch.Tensor):
    """Sizes of the 4-connected regions of a (h, w) bool mask."""
    h, w = mask.shape
    seen, sizes = set(), []
    for start in zip(*torch.nonzero(mask, as_tuple=True)):
        start = (int(start[0]), int(start[1]))
        if start in seen:
            continue
        stack, size = [start], 0
        seen.add(start)
        while stack:
            y, x = stack.pop()
            size += 1
            for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and (ny, nx) not in seen:
                    seen.add((ny, nx))
                    stack.append((ny, nx))
        sizes.append(size)
    return sizes


@pytest.mark.parametrize('grid,count,min_block', [((14, 14), 75, 16), ((7, 7), 19, 4),
                                                  ((14, 14), 98, 16), ((4, 4), 6, 2)])
def test_block_mask_exact_count_contiguous_and_seeded(grid, count, min_block):
    num = grid[0] * grid[1]
    ratio = count / num
    pm = generate_mask(16, grid, ratio, 'block', generator=torch.Generator().manual_seed(3),
                       min_block=min_block)
    assert (pm.mask.sum(1) == count).all()
    assert pm.ids_keep.shape == (16, num - count)
    # contiguous blocks: every 4-connected masked region holds at least one whole rectangle
    for m in pm.mask.view(-1, *grid):
        sizes = _components(m)
        assert sum(sizes) == count
        assert min(sizes) >= min_block or len(sizes) == 1, sizes
    again = generate_mask(16, grid, ratio, 'block', generator=torch.Generator().manual_seed(3),
                          min_block=min_block)
    assert torch.equal(pm.mask, again.mask) and torch.equal(pm.ids_restore, again.ids_restore)
    other = generate_mask(16, grid, ratio, 'block', generator=torch.Generator().manual_seed(4),
                          min_block=min_block)
    assert not torch.equal(pm.mask, other.mask)


def test_mask_complement_swaps_kept_and_removed():
    pm = generate_mask(3, (4, 4), 0.75, 'random', generator=torch.Generator().manual_seed(0))
    comp = pm.complement()
    assert torch.equal(comp.mask, ~pm.mask)
    assert torch.equal(comp.ids_keep, pm.ids_removed)
    assert torch.equal(comp.complement().ids_keep, pm.ids_keep)
    # ids_restore of the complement puts [masked, kept] tokens back in patch order
    tokens = torch.cat([comp.ids_keep, pm.ids_keep], dim=1).float()
    assert torch.equal(torch.gather(tokens, 1, comp.ids_restore), torch.arange(16.).expand(3, -1))


def _images(seed: int, n: int = 2) -> torch.Tensor:
    return torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


def test_masked_patch_content_never_reaches_a_prediction():
    """The attention rule: queries (mask token + position) see the visible latents and each
    other; masked pixels do not enter. Changing every masked patch leaves every prediction (the
    regressor's latents and the decoder's output) unchanged, while changing one visible patch
    changes all of them."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_cae_cfg()).eval()
    images = _images(0)
    mask = model.backbone.forward_masked(
        images, generator=torch.Generator().manual_seed(1)).patch_mask
    pixel_mask = mask.mask.view(2, 1, 4, 1, 4, 1).expand(-1, 3, -1, 4, -1, 4).reshape(2, 3, 16, 16)

    def predict(x):
        latent = model.backbone.forward_masked(x, patch_mask=mask)
        pos = model.positions(x)
        pred = model.neck(latent.tokens, mask, pos)
        return pred, model.decoder(pred, mask, pos)

    pred, out = predict(images)
    pred2, out2 = predict(torch.where(pixel_mask, _images(9), images))
    assert torch.equal(pred, pred2) and torch.equal(out, out2)
    pred3, out3 = predict(torch.where(pixel_mask, images, _images(9)))
    changed = (pred3 - pred).abs().amax(dim=-1)
    assert (changed > 1e-4).all()  # each query sees every visible latent


def test_queries_attend_to_each_other():
    """The other half of the rule: a query sees the other queries (their mask token and
    position), so moving one query changes the others' predictions, and reordering the queries
    only reorders the predictions."""
    torch.manual_seed(0)
    neck = MODELS.build(dict(type='LatentContextualRegressor', depth=2),
                        default_args=dict(encoder_spec=_spec()))
    tokens = torch.randn(1, 1 + 4, 32)
    pos = torch.randn(1, 1 + 16, 32)
    a = neck(tokens, _ordered_mask(range(16), num_keep=4), pos)  # queries: patches 4 .. 15
    # move the query of patch 15 (its position only: it is no key of the visible latents)
    moved = pos.clone()
    moved[0, 1 + 15] += torch.randn(32)
    b = neck(tokens, _ordered_mask(range(16), num_keep=4), moved)
    assert not torch.allclose(a[0, :-1], b[0, :-1], atol=1e-4)
    # the same query set in another order: each query's prediction moves with it
    c = neck(tokens, _ordered_mask([0, 1, 2, 3, 6, 4, 5, *range(7, 16)], num_keep=4), pos)
    assert torch.allclose(c[0, [1, 2, 0]], a[0, :3], atol=1e-5)
    assert torch.allclose(c[0, 3:], a[0, 3:], atol=1e-5)


def _ordered_mask(order, num_keep: int) -> PatchMask:
    """A one-image PatchMask keeping ``order[:num_keep]``, its removed patches in the order of
    ``order[num_keep:]``."""
    ids_shuffle = torch.tensor([list(order)])
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    mask = torch.ones_like(ids_shuffle, dtype=torch.bool)
    mask[:, :num_keep] = False
    return PatchMask(mask=torch.gather(mask, 1, ids_restore), ids_keep=ids_shuffle[:, :num_keep],
                     ids_restore=ids_restore)


def _spec():
    from mimlab.models.utils import EncoderSpec, TokenLayout
    return EncoderSpec(in_chans=3, tokens=TokenLayout(embed_dim=32, depth=2, num_heads=2,
                                                      patch_size=4, grid_size=(4, 4)))


def test_alignment_target_carries_no_gradient_into_the_encoder():
    # regressor depth 0: its prediction (mask token + position) does not depend on the encoder,
    # so any encoder gradient of the alignment loss could only come through the target
    torch.manual_seed(0)
    model = MODELS.build(tiny_cae_cfg(regressor_depth=0, align_weight=2.0))
    losses = model.loss(_images(0))
    assert set(losses) == {'loss_target', 'loss_align', 'align_mse'}
    assert torch.allclose(losses['loss_align'], 2 * losses['align_mse'])
    losses['loss_align'].backward()
    assert all(p.grad is None or not p.grad.any() for p in model.backbone.parameters())
    assert model.neck.mask_token.grad.abs().sum() > 0
    # with a regressor the encoder does get the alignment gradient, through the prediction
    model = MODELS.build(tiny_cae_cfg(regressor_depth=1))
    model.loss(_images(0))['loss_align'].backward()
    assert model.backbone.blocks[0].attn.qkv.weight.grad.abs().sum() > 0


def test_alignment_target_is_the_encoder_on_the_masked_patches_alone():
    torch.manual_seed(0)
    model = MODELS.build(tiny_cae_cfg())
    assert model.teacher is None  # momentum 0: no second copy of the encoder
    n_params = sum(p.numel() for p in model.parameters())
    images = _images(1)
    latent, _ = model.encode(images, generator=torch.Generator().manual_seed(0))
    ids_masked = latent.patch_mask.ids_removed
    target = model.alignment_target(images, latent.patch_mask)
    # by hand: embed, keep only the masked patches, cls, blocks, norm (eval: no drop path)
    x, _ = model.backbone.embed(images)
    x = torch.gather(x, 1, ids_masked.unsqueeze(-1).expand(-1, -1, 32))
    expected, _ = model.backbone.run_blocks(model.backbone.with_cls_token(x))
    assert torch.allclose(target, expected[:, 1:], atol=1e-6)
    assert not target.requires_grad
    ema = MODELS.build(tiny_cae_cfg(momentum=0.9))
    n_backbone = sum(p.numel() for p in model.backbone.parameters())
    assert sum(p.numel() for p in ema.parameters()) == n_params + n_backbone


def test_alignment_target_runs_the_encoder_in_the_models_mode():
    """Official CAE's alignment encoder is a submodule of the model in train mode: stochastic
    depth on, so two targets of one batch differ; align_target_mode='eval' turns it off."""
    cfg = tiny_cae_cfg()
    cfg['backbone']['drop_path_rate'] = 0.5
    images = _images(2)
    for mode, differ in (('train', True), ('eval', False)):
        torch.manual_seed(0)
        model = MODELS.build(dict(cfg, align_target_mode=mode)).train()
        mask = model.encode(images)[0].patch_mask
        first = model.alignment_target(images, mask)
        second = model.alignment_target(images, mask)
        assert (not torch.equal(first, second)) == differ, mode
        assert model.backbone.training
    model.eval()
    assert torch.equal(model.alignment_target(images, mask), model.alignment_target(images, mask))
    with pytest.raises(ValueError, match='align_target_mode'):
        MODELS.build(dict(cfg, align_target_mode='frozen'))


def test_cae_patch_projection_init_is_the_references_trunc_normal():
    """mmpretrain's CAEPretrainViT: TruncNormal(std=0.02) on the patch projection, zero bias
    (MAE's xavier-uniform of a 48 -> 32 map has std sqrt(2 / 80) = 0.16)."""
    import os.path as osp

    from conftest import REPO
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, 'configs/cae/cae-pixel_vit-tiny-p4_1xb256-coslr-6e_'
                                         'fashion-mnist.py'))
    torch.manual_seed(0)
    w = MODELS.build(cfg.model.backbone).patch_embed.proj
    assert w.weight.std().item() == pytest.approx(0.02, rel=0.15)
    assert not w.bias.any()
    mae = MODELS.build(tiny_cae_cfg()['backbone']).patch_embed.proj.weight
    assert mae.std().item() == pytest.approx(math.sqrt(2 / 80), rel=0.15)


def test_momentum_teacher_follows_the_encoder_by_ema():
    torch.manual_seed(0)
    model = MODELS.build(tiny_cae_cfg(momentum=0.9))
    model.init_weights()
    w = model.backbone.blocks[0].mlp.fc1.weight
    t = model.teacher.blocks[0].mlp.fc1.weight
    assert torch.equal(w, t) and not t.requires_grad
    with torch.no_grad():
        w.add_(1.0)
    before = t.detach().clone()
    model.train()
    model.loss(_images(0))
    assert torch.allclose(t, 0.9 * before + 0.1 * w.detach(), atol=1e-6)


def test_token_cross_entropy_matches_a_hand_computation():
    torch.manual_seed(0)
    model = MODELS.build(tiny_cae_cfg(head='token'))
    head = model.head
    assert head.fc.out_features == 16  # the tokenizer's vocabulary, not a config number
    images = _images(2, n=1)
    features = torch.randn(1, 2, 32)
    removing = torch.zeros(1, 16, dtype=torch.bool)
    removing[0, [3, 10]] = True
    ids_masked = PatchMask.from_mask(removing)
    ids = head.tokenizer.encode(images).flatten(1)  # 4 x 4 tokens for 4 x 4 patches
    logits = head.fc(features)[0].tolist()
    expected = 0.0
    for row, patch in zip(logits, (3, 10)):
        target = int(ids[0, patch])
        expected += -(row[target] - math.log(sum(math.exp(v) for v in row)))
    loss = head.loss(features, images, ids_masked)['loss_target']
    assert loss.item() == pytest.approx(expected / 2, rel=1e-5)
    # the whole model's loss has both parts, and the tokenizer stays frozen
    losses = model.loss(_images(3))
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert all(p.grad is None for p in head.tokenizer.parameters())
    assert head.fc.weight.grad is not None


def test_token_grid_must_match_the_patch_grid():
    cfg = tiny_cae_cfg(head='token')
    cfg['head']['view_size'] = 32  # 8 x 8 tokens for 4 x 4 patches
    model = MODELS.build(cfg)
    with pytest.raises(ValueError, match='set head.view_size'):
        model.loss(_images(0))


def _shapes(n: int) -> torch.Tensor:
    """n 16-px images of one bright axis-aligned rectangle on a dark ground."""
    g = torch.Generator().manual_seed(n)
    images = torch.zeros(n, 3, 16, 16)
    for i in range(n):
        top, left = torch.randint(0, 10, (2,), generator=g).tolist()
        h, w = torch.randint(3, 7, (2,), generator=g).tolist()
        images[i, :, top:top + h, left:left + w] = torch.rand(3, 1, 1, generator=g) * 0.5 + 0.5
    return images


def test_dvae_round_trip_of_a_trained_toy_codebook_beats_chance():
    torch.manual_seed(0)
    model = MODELS.build(dict(type='DVAEPretrain', tokenizer=DVAE, anneal_rate=0.01,
                              data_preprocessor=dict(type='ImgDataPreprocessor',
                                                     mean=[0.0] * 3, std=[255.0] * 3)))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    train = _shapes(64)
    model.train()
    for step in range(150):
        losses = model.loss(train[(step * 16) % 64:][:16])
        opt.zero_grad()
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        opt.step()
    assert model.current_temperature() < 0.25 and int(model.step) == 150
    model.eval()
    test = _shapes(16 + 64)[64:]
    tok = model.tokenizer
    ids = tok.encode(test)
    assert ids.shape == (16, 4, 4) and ids.dtype == torch.long
    error = F.mse_loss(tok.decode(ids), test).item()
    chance = F.mse_loss(tok.decode(torch.randint(16, ids.shape)), test).item()
    shuffled = F.mse_loss(tok.decode(ids[torch.randperm(16)]), test).item()
    mean_image = F.mse_loss(train.mean(0, keepdim=True).expand_as(test), test).item()
    assert error < 0.5 * min(chance, shuffled, mean_image), (error, chance, shuffled, mean_image)


def _published_dalle_state(n_hid: int, vocab: int, groups: int = 4, per_group: int = 2) -> dict:
    """Random weights in the published key layout of OpenAI's dall_e Encoder, written from its
    description, not from mimlab's module."""
    g = torch.Generator().manual_seed(0)

    def conv(prefix, n_in, n_out, k):
        return {f'{prefix}.w': torch.randn(n_out, n_in, k, k, generator=g) / (n_in * k * k) ** .5,
                f'{prefix}.b': torch.randn(n_out, generator=g) * 0.1}

    state = conv('blocks.input', 3, n_hid, 7)
    width = n_hid
    for gi in range(1, groups + 1):
        out = n_hid * 2 ** (gi - 1)
        for bi in range(1, per_group + 1):
            n_in = width if bi == 1 else out
            prefix = f'blocks.group_{gi}.block_{bi}'
            if n_in != out:
                state.update(conv(f'{prefix}.id_path', n_in, out, 1))
            hid = out // 4
            for ci, (a, b, k) in enumerate([(n_in, hid, 3), (hid, hid, 3), (hid, hid, 3),
                                            (hid, out, 1)], 1):
                state.update(conv(f'{prefix}.res_path.conv_{ci}', a, b, k))
        width = out
    state.update(conv('blocks.output.conv', width, vocab, 1))
    return state


def _reference_dalle_logits(state: dict, x: torch.Tensor, groups=4, per_group=2) -> torch.Tensor:
    """DALL-E's encoder forward, written out on the state dict."""
    def conv(prefix, h):
        w = state[f'{prefix}.w']
        return F.conv2d(h, w, state[f'{prefix}.b'], padding=(w.shape[-1] - 1) // 2)

    h = conv('blocks.input', 0.8 * x + 0.1)
    for gi in range(1, groups + 1):
        for bi in range(1, per_group + 1):
            p = f'blocks.group_{gi}.block_{bi}'
            identity = conv(f'{p}.id_path', h) if f'{p}.id_path.w' in state else h
            r = h
            for ci in range(1, 5):
                r = conv(f'{p}.res_path.conv_{ci}', F.relu(r))
            h = identity + r / (groups * per_group) ** 2
        if gi < groups:
            h = F.max_pool2d(h, 2)
    return conv('blocks.output.conv', F.relu(h))


def test_dalle_published_key_layout_loads_with_no_missing_keys(tmp_path):
    from conftest import import_tool
    convert = import_tool('dalle_to_mimlab', 'tools/model_converters')
    state = _published_dalle_state(n_hid=8, vocab=32)
    src = tmp_path / 'encoder_state.pt'
    torch.save(state, src)
    dst = tmp_path / 'dalle_encoder.pth'
    convert.main([str(src), str(dst), '--n-hid', '8', '--vocab-size', '32'])
    enc = MODELS.build(dict(type='DALLEEncoder', n_hid=8, vocab_size=32,
                            init_cfg=dict(type='Pretrained', checkpoint=str(dst))))
    enc.init_weights()
    result = enc.load_state_dict(torch.load(dst, weights_only=True)['state_dict'], strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    expected = _reference_dalle_logits(state, x)
    assert torch.allclose(enc.logits(x), expected, atol=1e-5)
    assert torch.equal(enc.encode(x), expected.argmax(1))
    assert enc.encode(x).shape == (2, 4, 4)


def test_dalle_missing_weights_and_pickled_modules_give_clear_errors(tmp_path):
    from conftest import import_tool

    from mimlab.engine.checkpoint import UnsafeCheckpointError
    enc = MODELS.build(dict(type='DALLEEncoder', n_hid=8, vocab_size=32, init_cfg=dict(
        type='Pretrained', checkpoint=str(tmp_path / 'nowhere.pth'))))
    with pytest.raises(FileNotFoundError, match=r'nowhere.pth do not exist.*'
                       r'https://cdn.openai.com/dall-e/encoder.pkl'):
        enc.init_weights()
    convert = import_tool('dalle_to_mimlab', 'tools/model_converters')
    with pytest.raises(SystemExit, match='encoder.pkl does not exist.*cdn.openai.com'):
        convert.main([str(tmp_path / 'encoder.pkl'), str(tmp_path / 'out.pth')])
    # a pickled whole module (the published file's form) needs the explicit opt-in
    module = MODELS.build(dict(type='DALLEEncoder', n_hid=8, vocab_size=32))
    pickled = tmp_path / 'encoder.pkl'
    torch.save(module, pickled)
    with pytest.raises(UnsafeCheckpointError, match='--unsafe-load'):
        convert.main([str(pickled), str(tmp_path / 'out.pth'), '--n-hid', '8',
                      '--vocab-size', '32'])
    convert.main([str(pickled), str(tmp_path / 'out.pth'), '--n-hid', '8', '--vocab-size', '32',
                  '--unsafe-load'])
    loaded = torch.load(tmp_path / 'out.pth', weights_only=True)['state_dict']
    assert all(torch.equal(loaded[k], v) for k, v in module.state_dict().items())


def test_dalle_pickled_module_loads_without_the_dall_e_package(tmp_path, monkeypatch):
    """The published encoder.pkl pickles dall_e.encoder.Encoder and friends; the converter reads
    it (with --unsafe-load) without that package installed."""
    import sys
    import types

    from conftest import import_tool

    from mimlab.models.tokenizers.dalle import DALLEConv2d, DALLEEncoderBlock
    convert = import_tool('dalle_to_mimlab', 'tools/model_converters')
    fake = {'dall_e': types.ModuleType('dall_e'),
            'dall_e.encoder': types.ModuleType('dall_e.encoder'),
            'dall_e.utils': types.ModuleType('dall_e.utils')}
    classes = {}
    for cls, module, name in ((MODELS.get('DALLEEncoder'), 'dall_e.encoder', 'Encoder'),
                              (DALLEEncoderBlock, 'dall_e.encoder', 'EncoderBlock'),
                              (DALLEConv2d, 'dall_e.utils', 'Conv2d')):
        classes[cls] = type(name, (cls,), {'__module__': module, '__qualname__': name})
        setattr(fake[module], name, classes[cls])
    encoder = MODELS.build(dict(type='DALLEEncoder', n_hid=8, vocab_size=32))
    expected = {k: v.clone() for k, v in encoder.state_dict().items()}
    for m in encoder.modules():
        if type(m) in classes:
            m.__class__ = classes[type(m)]
    for name, module in fake.items():
        monkeypatch.setitem(sys.modules, name, module)
    torch.save(encoder, tmp_path / 'encoder.pkl')
    for name in fake:
        monkeypatch.delitem(sys.modules, name)
    convert.main([str(tmp_path / 'encoder.pkl'), str(tmp_path / 'out.pth'), '--n-hid', '8',
                  '--vocab-size', '32', '--unsafe-load'])
    loaded = torch.load(tmp_path / 'out.pth', weights_only=True)['state_dict']
    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[k], v) for k, v in expected.items())


@pytest.mark.parametrize('arch,width,epochs', [('base', 768, 800), ('small', 384, 300),
                                               ('base', 768, 1600)])
def test_cae_paper_recipe_configs(arch, width, epochs):
    import os.path as osp

    from conftest import REPO
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, f'configs/cae/cae_vit-{arch}-p16_8xb256-coslr-'
                                         f'{epochs}e_in1k.py'))
    with torch.device('meta'):
        model = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    assert cfg.train_cfg.max_epochs == epochs and cfg.train_dataloader.batch_size * 8 == 2048
    assert model.backbone.embed_dim == width and model.neck.mask_token.shape[-1] == width
    assert len(model.neck.blocks) == 4 and len(model.decoder.blocks) == 4
    assert model.backbone.mask_mode == 'block' and model.align_weight == 2.0
    assert model.teacher is None
    assert type(model.head.tokenizer).__name__ == 'DALLEEncoder'
    assert model.head.view_size == 112 and model.head.fc.out_features == 8192
    # 112 px / 8 = 14 tokens a side = 224 px / 16
    assert 112 // model.head.tokenizer.downsample == model.backbone.grid_size[0]
    mask = generate_mask(1, model.backbone.grid_size, model.backbone.mask_ratio, 'block')
    assert int(mask.mask.sum()) == 75
    opt = cfg.optim_wrapper
    assert opt.optimizer.lr == 1.5e-3 and opt.optimizer.weight_decay == 0.05
    assert opt.clip_grad.max_norm == 3.0 and cfg.auto_scale_lr.base_batch_size == 2048
    warmup = {300: 10, 800: 20, 1600: 40}[epochs]  # official CAE's scripts
    assert cfg.param_scheduler[0].end == warmup and cfg.param_scheduler[1].begin == warmup
    assert cfg.param_scheduler[1].eta_min == 1e-5 and opt.paramwise_cfg.flat_decay_mult == 0.0
    assert model.neck.blocks[-1].drop_path.drop_prob == pytest.approx(0.1)
    assert model.decoder.blocks[-1].drop_path1.drop_prob == pytest.approx(0.1)
    assert model.neck.style == 'cae'
    # official CAE: 12 heads at every width (DeiT's ViT-S has 6), trunc-normal patch projection,
    # the alignment target from the encoder in train mode
    assert model.backbone.num_heads == 12 and model.neck.blocks[0].attn.num_heads == 12
    assert model.backbone.patch_embed_init == 'trunc_normal'
    assert model.align_target_mode == 'train'
    official = Config.fromfile(osp.join(REPO, 'configs/cae/cae_vit-base-p16_8xb256-coslr-'
                                              f'{epochs}e-mask98_in1k.py'))
    assert official.model.backbone.mask_ratio * 196 == pytest.approx(98)
    assert official.param_scheduler == Config.fromfile(osp.join(
        REPO, f'configs/cae/cae_vit-base-p16_8xb256-coslr-{epochs}e_in1k.py')).param_scheduler


def test_demo_configs_share_the_dvae_and_train(tmp_path):
    """The dVAE demo trains with tools/train.py; the CAE demo loads its tokenizer from that
    checkpoint and its loss (both parts logged) falls over a few steps on a tiny subset."""
    import os.path as osp

    from conftest import FASHION_MNIST, REPO
    from mmengine.config import Config
    from mmengine.runner import Runner
    if not osp.isdir(FASHION_MNIST):
        pytest.skip('Fashion-MNIST is not installed')
    small = {'train_dataloader.batch_size': 16, 'train_dataloader.dataset.indices': 32,
             'default_hooks.logger.interval': 1, 'train_cfg.max_epochs': 2}
    dvae = Config.fromfile(osp.join(REPO, 'configs/dvae/dvae_c128-d4_1xb256-3e_fashion-mnist.py'))
    dvae.merge_from_dict(small)
    dvae.work_dir = str(tmp_path / 'dvae')
    dvae.experiment_name = 'tiny_dvae'
    Runner.from_cfg(dvae).train()
    ckpt = tmp_path / 'dvae' / 'epoch_2.pth'
    cae = Config.fromfile(osp.join(REPO, 'configs/cae/cae_vit-tiny-p4_1xb256-coslr-6e_'
                                         'fashion-mnist.py'))
    cae.merge_from_dict(dict(small, **{'model.head.tokenizer.init_cfg.checkpoint': str(ckpt),
                                       'model.backbone.arch.depth': 2,
                                       'optim_wrapper.optimizer.lr': 3e-3,
                                       'train_cfg.max_epochs': 4}))
    cae.work_dir = str(tmp_path / 'cae')
    cae.experiment_name = 'tiny_cae'
    runner = Runner.from_cfg(cae)
    runner.train()
    tokenizer = runner.model.head.tokenizer
    from mimlab.engine.checkpoint import load_local_checkpoint
    trained = load_local_checkpoint(str(ckpt))['state_dict']
    assert torch.equal(tokenizer.codebook.weight, trained['tokenizer.codebook.weight'])
    log = next((tmp_path / 'cae').glob('*/vis_data/scalars.json')).read_text().splitlines()
    import json
    rows = [json.loads(r) for r in log if 'loss_target' in r]
    assert all('loss_align' in r and 'align_mse' in r for r in rows)
    assert rows[-1]['loss'] < rows[0]['loss']


def test_attention_weights_reproduce_the_fused_block():
    from mimlab.evaluation import attention_weights, cls_attention
    torch.manual_seed(0)
    model = MODELS.build(tiny_cae_cfg()).eval()
    vit = model.backbone
    images = _images(0)
    x = vit.with_cls_token(vit.embed(images)[0])
    attn = vit.blocks[0].attn
    normed = vit.blocks[0].norm1(x)
    weights, v = attention_weights(attn, normed)
    out = attn.proj(attn.norm((weights @ v).transpose(1, 2).flatten(2)))
    assert torch.allclose(out, attn(normed), atol=1e-5)
    maps = cls_attention(vit, images)
    assert maps.shape == (2, 2, 4, 4)
    # the cls query's weights over the patches plus its weight on itself sum to one
    assert torch.all(maps.sum(dim=(2, 3)) < 1) and torch.all(maps > 0)


def _tiny_checkpoint(tmp_path, config, options, name):
    from conftest import REPO
    from mmengine.config import Config
    cfg = Config.fromfile(f'{REPO}/{config}')
    cfg.merge_from_dict(options)
    torch.manual_seed(0)
    model = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    path = tmp_path / name
    torch.save(dict(state_dict=model.state_dict()), path)
    return str(path)


def test_analysis_tools_write_their_pictures(tmp_path):
    import json
    import os.path as osp

    from conftest import FASHION_MNIST, REPO, import_tool
    from PIL import Image
    if not osp.isdir(FASHION_MNIST):
        pytest.skip('Fashion-MNIST is not installed')
    small = {'model.backbone.arch.depth': 2, 'model.backbone.arch.embed_dim': 32,
             'model.backbone.arch.num_heads': 2, 'model.neck.depth': 1, 'model.decoder.depth': 1}
    options = [f'{k}={v}' for k, v in small.items()]
    pixel = 'configs/cae/cae-pixel_vit-tiny-p4_1xb256-coslr-6e_fashion-mnist.py'
    ckpt = _tiny_checkpoint(tmp_path, pixel, small, 'cae.pth')
    check = import_tool('cae_alignment_check', 'tools/analysis_tools')
    out = tmp_path / 'align.png'
    res = check.main(['--model', 'a', f'{REPO}/{pixel}', ckpt, '--model', 'b', f'{REPO}/{pixel}',
                      ckpt, '--num-images', '2', '--num-eval', '4', '--out', str(out),
                      '--cfg-options', *options])
    assert res['a']['mse_all_patches'] == res['b']['mse_all_patches'] > 0
    assert Image.open(out).size[0] > 200
    assert json.loads((tmp_path / 'align.json').read_text())['models']['a']['num_images'] == 4

    attention = import_tool('visualize_attention', 'tools/analysis_tools')
    out = tmp_path / 'attn.png'
    attention.main([f'{REPO}/{pixel}', ckpt, '--split', 'test', '--num-images', '2', '--out',
                    str(out), '--cfg-options', *options])
    w, h = Image.open(out).size
    assert w > 3 * 100 and h > 2 * 100  # image + 2 heads, 2 rows

    dvae = 'configs/dvae/dvae_c128-d4_1xb256-3e_fashion-mnist.py'
    ckpt = _tiny_checkpoint(tmp_path, dvae, {}, 'dvae.pth')
    tokenizer = import_tool('visualize_tokenizer', 'tools/analysis_tools')
    res = tokenizer.main([f'{REPO}/{dvae}', ckpt, '--num-images', '2', '--num-eval', '8',
                          '--out', str(tmp_path / 'dvae.png')])
    assert res['token_grid'] == [7, 7] and 1 <= res['codes_used'] <= 128
    assert (tmp_path / 'dvae.png').exists()


def test_cae_loss_uses_a_handed_in_mask():
    torch.manual_seed(0)
    model = MODELS.build(tiny_cae_cfg()).eval()
    images = _images(4)
    patch_mask = generate_mask(2, (4, 4), 6 / 16, mode='block', min_block=2,
                               generator=torch.Generator().manual_seed(1))
    torch.manual_seed(2)
    losses = model.loss(images, patch_mask=patch_mask)
    torch.manual_seed(3)
    again = model.loss(images, patch_mask=patch_mask)
    assert all(torch.equal(losses[k], again[k]) for k in losses)
    # by hand on that mask: regressor -> decoder -> head, and the alignment target
    latent = model.backbone.forward_masked(images, patch_mask=patch_mask)
    pos = model.positions(images)
    regressed = model.neck(latent.tokens, patch_mask, pos)
    target = model.head.loss(model.decoder(regressed, patch_mask, pos), images, patch_mask)
    assert torch.equal(losses['loss_target'], target['loss_target'])
    align = F.mse_loss(regressed, model.alignment_target(images, patch_mask))
    assert torch.equal(losses['align_mse'], align)
