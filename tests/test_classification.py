"""Classification protocols: linear probe, (partial) fine-tuning, layer decay, LARS, mixup,
RandAugment, few-label splits and the benchmark configs."""
import glob
import json
import os.path as osp
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import FASHION_MNIST, REPO
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper

from mimlab.datasets import FewLabelDataset, draw_label_split
from mimlab.registry import DATASETS, MODELS, TRANSFORMS

CLS_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs/benchmarks/classification/*.py')))
NO_PREPROCESSING = dict(type='ImgDataPreprocessor', mean=[0.0] * 3, std=[1.0] * 3)


def tiny_classifier(depth: int = 2, **kwargs):
    head = dict(type='LinearClsHead', num_classes=10, pool='cls')
    head.update(kwargs.pop('head', {}))
    return MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='VisionTransformer', arch=dict(embed_dim=32, depth=depth, num_heads=2),
                      img_size=16, patch_size=4, out_type='raw'),
        head=head, data_preprocessor=NO_PREPROCESSING, **kwargs))


def batch(n: int = 8, seed: int = 0, size: int = 16):
    from mmengine.structures import BaseDataElement
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    labels = torch.arange(n) % 10
    return dict(inputs=list(inputs),
                data_samples=[BaseDataElement(gt_label=y) for y in labels])


def test_layer_decay_gives_the_stated_lr_per_group():
    model = tiny_classifier(depth=2)
    wrapper = build_optim_wrapper(model, dict(
        constructor='LayerDecayOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05),
        paramwise_cfg=dict(layer_decay_rate=0.5)))
    lr, wd = {}, {}
    names = {id(p): n for n, p in model.named_parameters()}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            lr[names[id(p)]], wd[names[id(p)]] = group['lr'], group['weight_decay']
    # 2 blocks: layer 0 = embeddings, 1-2 = blocks, 3 = final norm and head; lr = 0.5 ** (3 - id)
    assert lr['backbone.patch_embed.proj.weight'] == lr['backbone.cls_token'] == 0.125
    assert lr['backbone.blocks.0.attn.qkv.weight'] == lr['backbone.blocks.0.norm1.bias'] == 0.25
    assert lr['backbone.blocks.1.mlp.fc2.weight'] == 0.5
    assert lr['backbone.norm.weight'] == lr['head.fc.weight'] == lr['head.fc.bias'] == 1.0
    assert 'backbone.pos_embed' not in lr  # fixed sin-cos positions are not trained
    assert wd['backbone.blocks.1.mlp.fc2.weight'] == wd['head.fc.weight'] == 0.05
    assert wd['backbone.cls_token'] == wd['head.fc.bias'] == wd['backbone.norm.weight'] == 0.0
    # a partially frozen encoder: frozen parameters are in no group
    frozen = tiny_classifier(depth=2, trainable_blocks=1)
    wrapper = build_optim_wrapper(frozen, dict(
        constructor='LayerDecayOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=1.0), paramwise_cfg=dict(layer_decay_rate=0.5)))
    assert sorted(round(g['lr'], 6) for g in wrapper.optimizer.param_groups) == [0.5, 0.5, 1, 1]


def _grads(model, data):
    model.zero_grad()
    model.train()
    losses = model(**model.data_preprocessor(data, True), mode='loss')
    losses['loss_cls'].backward()
    return {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum()}


def test_linear_probe_encoder_receives_no_gradient():
    model = tiny_classifier(trainable_blocks=0, head=dict(batch_norm=True))
    assert isinstance(model.head.bn, torch.nn.BatchNorm1d) and not model.head.bn.affine
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    assert _grads(model, batch()) == {'head.fc.weight', 'head.fc.bias'}
    assert all(p.grad is None for p in model.backbone.parameters())
    assert not model.backbone.training and model.head.training
    # a training step through the optimizer leaves the encoder as it was, the head learns
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)))
    head_before = model.head.fc.weight.detach().clone()
    model.train_step(batch(seed=1), wrapper)
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert not torch.equal(model.head.fc.weight, head_before)
    assert model.head.bn.num_batches_tracked > 0  # BN statistics of the frozen features


@pytest.mark.parametrize('trainable,expected', [
    (1, {'backbone.blocks.2.', 'backbone.norm.'}),
    (2, {'backbone.blocks.1.', 'backbone.blocks.2.', 'backbone.norm.'}),
    ('last_mlp', {'backbone.blocks.2.norm2.', 'backbone.blocks.2.mlp.', 'backbone.norm.'}),
    (None, {'backbone.'}),
])
def test_partial_finetune_trains_exactly_the_stated_parameters(trainable, expected):
    model = tiny_classifier(depth=3, trainable_blocks=trainable)
    params = {n for n, p in model.named_parameters() if n.startswith('backbone.')}
    stated = {n for n in params if n.startswith(tuple(expected))}
    if trainable is None:
        stated.discard('backbone.pos_embed')  # sin-cos, fixed
    trains = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trains == stated | {'head.fc.weight', 'head.fc.bias'}
    with_grad = _grads(model, batch())
    assert {n for n in with_grad if n.startswith('backbone.')} == stated
    if trainable is not None:  # frozen blocks run as in evaluation (no drop path)
        assert not model.backbone.blocks[0].training and model.backbone.blocks[-1].mlp.training


def test_bad_trainable_blocks_is_refused_with_the_key():
    for bad in (4, -1, 'last_block', True):
        with pytest.raises(ValueError, match='model.trainable_blocks'):
            tiny_classifier(depth=3, trainable_blocks=bad)


def test_lars_is_timms_and_adapts_only_the_weight_matrix():
    from timm.optim import Lars
    model = tiny_classifier(trainable_blocks=0, head=dict(batch_norm=True))
    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='LARS', lr=1.0, momentum=0.0, weight_decay=0.0, trust_coeff=0.001,
                       always_adapt=True),
        paramwise_cfg=dict(custom_keys={'bias': dict(always_adapt=False)})))
    assert isinstance(wrapper.optimizer, Lars)
    w, b = model.head.fc.weight, model.head.fc.bias
    w0, b0 = w.detach().clone(), b.detach().clone()
    _grads(model, batch())
    g_b = b.grad.clone()
    model.zero_grad()
    model.train_step(batch(), wrapper)
    # the weight's step is g scaled by the trust ratio 0.001 |w| / |g|: its norm is 0.001 |w|;
    # the bias (zero at init) takes the plain SGD step -lr * g
    assert float((w0 - w.detach()).norm()) == pytest.approx(0.001 * float(w0.norm()), rel=1e-4)
    torch.testing.assert_close(b0 - b.detach(), g_b)


def test_mixup_targets_sum_to_one_and_a_finetune_step_runs():
    model = tiny_classifier(mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0,
                                       label_smoothing=0.1))
    assert model.mixup.num_classes == 10
    inputs = torch.rand(8, 3, 16, 16)
    labels = torch.arange(8)
    torch.manual_seed(0)
    np.random.seed(0)
    mixed, targets = model.mixup(inputs.clone(), labels)
    assert targets.shape == (8, 10)
    torch.testing.assert_close(targets.sum(1), torch.ones(8))
    assert (targets > 0).sum(1).min() >= 2  # smoothing spreads mass over every class
    assert targets.max() < 0.91 + 1e-6  # no label keeps all its mass (smoothing 0.1)
    assert not torch.equal(mixed, inputs)
    # a real fine-tune step: Fashion-MNIST through RandAugment, mixup, soft-target loss
    dataset = DATASETS.build(dict(
        type='ImageDataset', data_root=FASHION_MNIST, split='test', indices=8, pipeline=[
            dict(type='LoadImage'),
            dict(type='RandomResizedCrop', size=16, scale=(0.5, 1.0)),
            dict(type='RandAugment', policy='rand-m9-mstd0.5-inc1'),
            dict(type='PackInputs')]))
    data = pseudo_collate([dataset[i] for i in range(8)])
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='AdamW', lr=1e-3)))
    before = model.backbone.blocks[0].mlp.fc1.weight.detach().clone()
    logs = model.train_step(data, wrapper)
    assert torch.isfinite(logs['loss_cls']) and logs['loss_cls'] > 0
    assert not torch.equal(before, model.backbone.blocks[0].mlp.fc1.weight)
    odd = pseudo_collate([dataset[i] for i in range(7)])
    with pytest.raises(ValueError, match='even train_dataloader.batch_size'):
        model.train_step(odd, wrapper)


def test_rand_augment_changes_images_and_keeps_their_format():
    augment = TRANSFORMS.build(dict(type='RandAugment', policy='rand-m9-mstd0.5-inc1'))
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (28, 28, 3), dtype=np.uint8)
    # timm draws the ops from numpy's and their use and magnitudes from python's random state
    # (mmengine seeds both)
    random.seed(0)
    np.random.seed(0)
    outs = [augment(dict(img=img.copy()))['img'] for _ in range(20)]
    assert all(o.shape == img.shape and o.dtype == np.uint8 for o in outs)
    # two ops, each applied with probability 0.5: about 3 images in 4 change
    assert 10 <= sum(not np.array_equal(o, img) for o in outs) < 20
    random.seed(0)
    np.random.seed(0)
    assert all(np.array_equal(augment(dict(img=img.copy()))['img'], o) for o in outs)
    with pytest.raises(ValueError, match='rand-'):
        TRANSFORMS.build(dict(type='RandAugment', policy='augmix-m5'))
    # at magnitude 10 PosterizeIncreasing keeps 0 bits: a black image (Pillow 13 raised)
    strongest = TRANSFORMS.build(dict(type='RandAugment', policy='rand-m10-inc1'))
    posterize = next(op for op in strongest.augment.ops if op.name == 'PosterizeIncreasing')
    posterize.prob = 1.0
    from PIL import Image
    assert np.asarray(posterize(Image.fromarray(img))).max() == 0


def test_label_split_is_deterministic_class_balanced_and_saved(tmp_path):
    labels = np.repeat(np.arange(4), [100, 200, 50, 7])
    split = draw_label_split(labels, 0.1, seed=0)
    assert split == draw_label_split(labels, 0.1, seed=0) == sorted(split)
    assert split != draw_label_split(labels, 0.1, seed=1)
    assert np.bincount(labels[split]).tolist() == [10, 20, 5, 1]  # rounded, at least one
    assert len(set(split)) == len(split)
    assert np.bincount(labels[draw_label_split(labels, 0.01)]).tolist() == [1, 2, 1, 1]

    source = dict(type='ImageDataset', data_root=FASHION_MNIST, split='test',
                  pipeline=[dict(type='LoadImage'), dict(type='PackInputs')])
    path = tmp_path / 'splits' / 'fm_test_1pct.json'
    few = FewLabelDataset(source, fraction=0.01, seed=0, split_file=str(path))
    assert len(few) == 100 and few.metainfo['classes'][0] == 'T-shirt/top'
    labels = [int(few[i]['data_samples'].gt_label) for i in range(len(few))]
    assert np.bincount(labels).tolist() == [10] * 10  # Fashion-MNIST test: 1000 per class
    assert [few.get_data_info(i)['img_index'] for i in range(100)] == few.split_indices
    saved = json.loads(path.read_text())
    assert saved['indices'] == few.split_indices and saved['num_source'] == 10000
    # a saved split is read back, not drawn again
    saved['indices'] = list(range(100))
    path.write_text(json.dumps(saved))
    assert FewLabelDataset(source, 0.01, 0, str(path)).split_indices == list(range(100))
    with pytest.raises(ValueError, match='fm_test_1pct.json was drawn with'):
        FewLabelDataset(source, fraction=0.01, seed=1, split_file=str(path))


def _meta_model(cfg):
    model_cfg = dict(cfg.model, data_preprocessor=cfg.data_preprocessor)
    model_cfg['backbone'] = dict(model_cfg['backbone'], init_cfg=None)
    with torch.device('meta'):
        return MODELS.build(model_cfg)


def test_classification_configs_state_the_protocols():
    for path in CLS_CONFIGS:
        cfg = Config.fromfile(path)
        model = _meta_model(cfg)
        assert cfg.val_evaluator.type == cfg.test_evaluator.type == 'Accuracy', path
        if 'fashion-mnist' in path:
            assert model.head.num_classes == 10 and model.backbone.patch_size == 4
            assert cfg.model.backbone.init_cfg.checkpoint == 'work_dirs/demo/epoch_6.pth'
        else:
            assert model.head.num_classes == 1000 and model.backbone.embed_dim == 768
        if 'linear-probe' in path or 'attentive-probe' in path:
            assert model.trainable_blocks == 0 and model.head.bn is not None
        if 'attentive-probe' in path:
            assert type(model.head).__name__ == 'AttentiveClsHead'
        if 'finetune' in path:
            assert model.mixup is not None and cfg.train_dataloader.drop_last
            assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.65
            assert model.backbone.blocks[-1].drop_path1.drop_prob == pytest.approx(0.1)
            # official MAE's global_pool classifier and random erasing, demo configs included
            assert isinstance(model.backbone.norm, torch.nn.Identity), path
            assert cfg.model.backbone.init_cfg.drop_keys == ['norm.*'], path
            assert model.head.pool == 'avg' and model.head.fc_norm is not None, path
            assert cfg.model.head.init_std == 2e-5, path
            assert model.random_erasing == dict(probability=0.25, mode='pixel', max_count=1)
            assert cfg.param_scheduler[0].start_factor == 1e-4, path
    lars = Config.fromfile(osp.join(REPO, 'configs/benchmarks/classification',
                                    'linear-probe-lars_mae-vit-base-p16_8xb2048-coslr-90e_in1k.py'))
    assert lars.optim_wrapper.optimizer.lr == pytest.approx(6.4)  # 0.1 x 16384 / 256
    assert lars.train_dataloader.batch_size * 8 == 16384 and lars.train_cfg.max_epochs == 90
    ft = Config.fromfile(osp.join(REPO, 'configs/benchmarks/classification',
                                  'finetune_mae-vit-base-p16_8xb128-coslr-100e_in1k.py'))
    assert ft.optim_wrapper.optimizer.lr == pytest.approx(2e-3) and ft.train_cfg.max_epochs == 100
    assert ft.model.mixup == dict(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1)
    assert ft.train_pipeline[3].policy == 'rand-m9-mstd0.5-inc1'
    few = Config.fromfile(osp.join(REPO, 'configs/benchmarks/classification',
                                   'finetune-1pct_mae-vit-base-p16_8xb128-coslr-100e_in1k.py'))
    assert few.train_dataloader.dataset.type == 'FewLabelDataset'
    assert few.train_dataloader.dataset.fraction == 0.01
    assert few.train_dataloader.dataset.dataset.pipeline == ft.train_pipeline


@pytest.mark.parametrize('name, img_size, patch_size, num_classes', [
    ('finetune_mae-vit-base-p16_8xb128-coslr-100e_in1k.py', 32, 16, 1000),
    ('finetune_mae-vit-tiny-p4_1xb256-coslr-5e_fashion-mnist.py', 28, 4, 10)])
def test_mae_finetune_config_builds_the_official_classifier(name, img_size, patch_size,
                                                             num_classes, tmp_path):
    """Official MAE fine-tuning (models_vit.py with global_pool, main_finetune.py), in the
    ImageNet config and in the Fashion-MNIST demo's: no final norm on the encoder, mean of the
    patch tokens -> fresh fc_norm LayerNorm -> head with weights of std 2e-5, random erasing 0.25
    ('pixel', one box) on the normalised images before mixup; the pretraining checkpoint loads
    with its final norm left out."""
    from mmengine.runner import save_checkpoint
    from mmengine.structures import BaseDataElement
    cfg = Config.fromfile(osp.join(REPO, 'configs/benchmarks/classification', name))
    mae = MODELS.build(dict(type='MAE', backbone=dict(
        type='MaskedViT', arch=dict(embed_dim=64, depth=2, num_heads=2), img_size=img_size,
        patch_size=patch_size), neck=dict(type='MAEPretrainDecoder', embed_dim=16, depth=1,
                                          num_heads=2),
        head=dict(type='PixelReconstructionHead')))
    save_checkpoint(mae.state_dict(), str(tmp_path / 'mae.pth'))
    cfg.merge_from_dict({'model.backbone.arch': dict(_delete_=True, embed_dim=64, depth=2,
                                                     num_heads=2),
                         'model.backbone.img_size': img_size,
                         'model.backbone.init_cfg.checkpoint': str(tmp_path / 'mae.pth')})
    torch.manual_seed(0)
    model = MODELS.build(dict(cfg.model, data_preprocessor=NO_PREPROCESSING))
    model.init_weights()
    for name, value in model.backbone.state_dict().items():
        assert torch.equal(value, mae.backbone.state_dict()[name]), name
    assert isinstance(model.backbone.norm, torch.nn.Identity)  # no final norm on the tokens
    fc_norm = model.head.fc_norm
    assert isinstance(fc_norm, torch.nn.LayerNorm) and fc_norm.eps == 1e-6
    weight = model.head.fc.weight  # num_classes x 64 draws
    # trunc_normal_ cuts at +-2 (absolute, as timm's): at std 2e-5 nothing is cut
    assert weight.std().item() == pytest.approx(2e-5, rel=0.1)
    assert weight.abs().max() < 1e-4
    assert torch.equal(model.head.fc.bias, torch.zeros(num_classes))

    model.eval()
    images = torch.randn(2, 3, img_size, img_size)
    with torch.no_grad():
        tokens = model.tokens(images)
        expected = model.head.fc(fc_norm(tokens[:, 1:].mean(1)))
        assert torch.allclose(model.head(tokens), expected)
        # the cls token does not reach the classifier
        assert torch.equal(model.head(torch.cat([tokens[:, :1] + 1, tokens[:, 1:]], 1)),
                          model.head(tokens))

    assert model.random_erasing == dict(probability=0.25, mode='pixel', max_count=1)
    model.random_erasing['probability'] = 1.0
    model.mixup = None
    seen = []
    model.backbone.patch_embed.register_forward_pre_hook(
        lambda module, args: seen.append(args[0].clone()))
    samples = [BaseDataElement(gt_label=torch.tensor(i)) for i in range(2)]
    model.train()
    before = images.clone()
    model.loss(images, samples)
    erased = seen[-1] != images
    assert erased.any() and not erased.all()
    assert torch.equal(images, before)  # the caller's batch is not erased in place
    for i in range(2):  # one box per image, the same on every channel
        rows, cols = erased[i, 0].any(1), erased[i, 0].any(0)
        assert torch.equal(erased[i, 0], rows[:, None] & cols[None, :])


def cae_attentive_reference(head, tokens: torch.Tensor) -> torch.Tensor:
    """Official CAE's attentive probe (``modeling_finetune.py``: ``AttentiveBlock`` with zero
    position terms, its ``CrossAttention`` with q_bias/v_bias and no key bias, then
    ``fc_norm`` = BatchNorm without affine and ``head``), ported step by step and run on the
    head's weights."""
    att = head.cross_attn
    b, n, d = tokens.shape
    heads = att.num_heads
    x_q = F.layer_norm(head.query_token.expand(b, -1, -1), (d,), head.norm_q.weight,
                       head.norm_q.bias, 1e-6)
    x_k = F.layer_norm(tokens, (d,), head.norm_k.weight, head.norm_k.bias, 1e-6)
    x_v = F.layer_norm(tokens, (d,), head.norm_v.weight, head.norm_v.bias, 1e-6)
    q = F.linear(x_q, att.q.weight, att.q.bias).reshape(b, 1, heads, -1).transpose(1, 2)
    k = F.linear(x_k, att.k.weight, torch.zeros(d)).reshape(b, n, heads, -1).transpose(1, 2)
    v = F.linear(x_v, att.v.weight, att.v.bias).reshape(b, n, heads, -1).transpose(1, 2)
    attn = ((q * (d // heads) ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
    x = att.proj((attn @ v).transpose(1, 2).reshape(b, 1, d))[:, 0]
    x = F.batch_norm(x, head.bn.running_mean, head.bn.running_var, training=False, eps=1e-6)
    return head.fc(x)


def separable_batch(n: int, seed: int):
    """Two classes of 16-px noise images with one 4x4 patch (one token) made bright (class 1)
    or dark (class 0), anywhere: the probe has to find that token among 16."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 3, 16, 16, generator=g) * 0.3
    labels = torch.arange(n) % 2
    for i in range(n):
        row, col = (int(torch.randint(0, 4, (1,), generator=g)) * 4 for _ in range(2))
        images[i, :, row:row + 4, col:col + 4] += 2.0 if labels[i] else -2.0
    return images, labels


def test_attentive_probe_classifier_init_is_official_cae_normal_001():
    """Official run_attentive.py: ``head.weight.data.normal_(mean=0.0, std=0.01)``, bias 0."""
    from mimlab.models.utils import EncoderSpec, TokenLayout
    torch.manual_seed(0)
    spec = EncoderSpec(in_chans=3, tokens=TokenLayout(embed_dim=256, depth=2, num_heads=4,
                                                      patch_size=4, grid_size=(4, 4),
                                                      num_prefix_tokens=1))
    fc = MODELS.build(dict(type='AttentiveClsHead', num_classes=200),
                      default_args=dict(encoder_spec=spec)).fc
    assert fc.weight.std().item() == pytest.approx(0.01, rel=0.03)
    assert fc.weight.mean().abs().item() < 1e-3 and not fc.bias.any()


def test_attentive_probe_trains_only_its_head_and_learns():
    from mmengine.structures import BaseDataElement
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='ImageClassifier', trainable_blocks=0, data_preprocessor=NO_PREPROCESSING,
        backbone=dict(type='VisionTransformer', arch=dict(embed_dim=32, depth=2, num_heads=2),
                      img_size=16, patch_size=4, out_type='raw'),
        head=dict(type='AttentiveClsHead', num_classes=2)))
    head = model.head
    assert head.cross_attn.num_heads == 2 and torch.equal(head.query_token, torch.zeros(1, 1, 32))
    images, labels = separable_batch(64, seed=0)
    test_images, test_labels = separable_batch(64, seed=1)
    samples = [BaseDataElement(gt_label=y) for y in labels]
    encoder_before = {k: v.clone() for k, v in model.backbone.state_dict().items()}

    def accuracy():
        model.eval()
        with torch.no_grad():
            return (model.head(model.tokens(test_images)).argmax(1) == test_labels).float().mean()

    model.train()
    model.loss(images, samples)['loss_cls'].backward()
    assert all(p.grad is None for p in model.backbone.parameters())  # frozen: no gradient
    assert all(p.grad is not None for p in head.parameters())  # the head trains
    assert head.query_token.grad.abs().sum() > 0 and head.cross_attn.v.weight.grad.abs().sum() > 0
    model.zero_grad()

    start = accuracy()
    optimizer = torch.optim.SGD(head.parameters(), lr=0.1, momentum=0.9)
    for _ in range(60):
        model.train()
        loss = model.loss(images, samples)['loss_cls']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    end = accuracy()
    assert end >= 0.9 and end > start + 0.2, (start, end)
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, encoder_before[k]), k

    model.eval()
    with torch.no_grad():  # the same numbers as official CAE's attentive probe
        tokens = model.tokens(test_images)
        assert torch.allclose(head(tokens), cae_attentive_reference(head, tokens), atol=1e-5)


def test_demo_classifier_loads_the_mae_demo_backbone(tmp_path):
    """The demo classification configs and the MAE demo share the encoder: every backbone
    weight of an MAE checkpoint arrives in the classifier."""
    from conftest import DEMO_CONFIG
    from mmengine.runner import save_checkpoint
    mae = MODELS.build(Config.fromfile(DEMO_CONFIG).model)
    ckpt = tmp_path / 'mae.pth'
    save_checkpoint(mae.state_dict(), str(ckpt))
    cfg = Config.fromfile(osp.join(REPO, 'configs/benchmarks/classification',
                                   'finetune_mae-vit-tiny-p4_1xb256-coslr-5e_fashion-mnist.py'))
    cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
    model = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    model.init_weights()
    for name, value in model.backbone.state_dict().items():
        assert torch.equal(value, mae.backbone.state_dict()[name]), name


@pytest.mark.parametrize('name', [
    'finetune-1pct_mae-vit-base-p16_8xb128-coslr-100e_in1k.py',
    'finetune-ema_mae-vit-base-p16_8xb128-coslr-100e_in1k.py',
    'linear-probe-lars_mae-vit-base-p16_8xb2048-coslr-90e_in1k.py'])
def test_paper_configs_train_and_validate_on_an_imagenet_layout_folder(name, tmp_path):
    """The papers' configs, unchanged but for the data root, batch and a narrow encoder: 224-px
    crops, RandAugment, mixup, layer decay, a 1% split (one image per class), EMA, LARS."""
    from mmengine.runner import Runner
    from PIL import Image
    rng = np.random.default_rng(0)
    for split in ('train', 'val'):
        for cls in ('n01', 'n02'):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(4):
                Image.fromarray(rng.integers(0, 255, (80, 96, 3), dtype=np.uint8)).save(
                    tmp_path / split / cls / f'{i}.JPEG')
    cfg = Config.fromfile(osp.join(REPO, 'configs/benchmarks/classification', name))
    few_label = cfg.train_dataloader.dataset.type == 'FewLabelDataset'
    data = cfg.train_dataloader.dataset.dataset if few_label else cfg.train_dataloader.dataset
    data.data_root = cfg.val_dataloader.dataset.data_root = str(tmp_path)
    if few_label:
        cfg.train_dataloader.dataset.split_file = str(tmp_path / 'split.json')
    cfg.merge_from_dict({
        'model.backbone.arch': dict(_delete_=True, embed_dim=32, depth=2, num_heads=2),
        'model.backbone.init_cfg': None, 'model.head.num_classes': 2,
        'train_dataloader.batch_size': 2, 'val_dataloader.batch_size': 4,
        'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1, 'param_scheduler': [],
        'work_dir': str(tmp_path / 'work'), 'experiment_name': name})
    for loader in ('train_dataloader', 'val_dataloader'):
        cfg[loader].update(num_workers=0, persistent_workers=False, pin_memory=False)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == (1 if few_label else 4)
    assert runner.message_hub.get_scalar('val/top1') is not None
    if 'ema' in name:
        ckpt = torch.load(tmp_path / 'work' / 'epoch_1.pth', weights_only=False)
        assert any(k.startswith('module.backbone.') for k in ckpt['ema_state_dict'])
    if few_label:
        assert json.loads((tmp_path / 'split.json').read_text())['num_images'] == 2
