"""torch.compile from a config: the model's training forward is compiled, the optimizer step
stays eager, and every shipped config that turns compile on trains (2 iterations at tiny sizes,
on the CPU)."""
import glob
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from conftest import REPO, tiny_mae_cfg
from mmengine.config import Config
from mmengine.runner import Runner
from torch._dynamo import lookup_backend, register_backend

from mimlab.apis.train import training_config
from mimlab.engine.errors import ConfigError
from mimlab.registry import MODELS

SHIPPED = sorted(p for p in glob.glob(osp.join(REPO, 'configs/**/*.py'), recursive=True)
                 if '/_base_/' not in p)


def _turns_compile_on(path: str) -> bool:
    cfg = Config.fromfile(path)
    return bool(cfg.get('compile') or cfg.get('model', {}).get('compile'))


COMPILE_CONFIGS = [p for p in SHIPPED if _turns_compile_on(p)]


class RecordingBackend:
    """A torch.compile backend that keeps the graphs dynamo captured and hands them to another
    backend (aot_eager by default: dynamo + AOT autograd, without inductor's code generation)."""

    def __init__(self, backend: str = 'aot_eager') -> None:
        self.graphs = []
        self.backend = lookup_backend(backend)

    def __call__(self, gm, example_inputs):
        self.graphs.append(gm)
        return self.backend(gm, example_inputs)


def _graph_text(graphs) -> str:
    return '\n'.join(str(gm.graph) for gm in graphs)


def test_shipped_compile_configs_are_found():
    names = [osp.relpath(p, REPO) for p in COMPILE_CONFIGS]
    assert 'configs/mae/mae_vit-base-p16_8xb512-bf16-compile-coslr-800e_in1k.py' in names
    for path in COMPILE_CONFIGS:  # the model's key, never mmengine's whole-train_step compile
        assert not Config.fromfile(path).get('compile'), path


def test_compiled_loss_matches_eager_and_leaves_the_state_dict_alone():
    backend = RecordingBackend()
    torch.manual_seed(0)
    eager = MODELS.build(tiny_mae_cfg())
    compiled = MODELS.build(dict(tiny_mae_cfg(), compile=dict(backend=backend)))
    compiled.load_state_dict(eager.state_dict())
    assert list(compiled.state_dict()) == list(eager.state_dict())  # no '_orig_mod.' keys
    images = torch.randn(3, 3, 16, 16)
    results = []
    for model in (eager, compiled):
        torch.manual_seed(1)  # the same masks
        loss = model(images, mode='loss')['loss_rec']
        loss.backward()
        results.append((loss.detach(), model.backbone.blocks[0].attn.qkv.weight.grad.clone(),
                        model.neck.decoder_pred.weight.grad.clone()))
    for a, b in zip(*results):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-4)
    # one graph from the mask to the loss: the encoder, the decoder and the head are in it
    text = _graph_text(backend.graphs)
    assert len(backend.graphs) == 1
    for part in ('patch_embed', 'decoder_blocks', 'decoder_pred', 'rand'):
        assert part in text, part
    # a smaller last batch recompiles with a dynamic batch size, masks drawn inside
    torch.manual_seed(1)
    small = compiled(images[:2], mode='loss')['loss_rec']
    torch.manual_seed(1)
    torch.testing.assert_close(small, eager(images[:2], mode='loss')['loss_rec'], atol=1e-5,
                               rtol=1e-4)
    # a deep copy (EMA, tools) runs its own weights through the compiled loss
    import copy
    twin = copy.deepcopy(compiled)
    with torch.no_grad():
        for p in twin.parameters():
            p.zero_()
    torch.manual_seed(1)
    assert twin(images, mode='loss')['loss_rec'].item() != pytest.approx(results[0][0].item())


def test_compile_must_be_a_bool_or_torch_compile_arguments():
    with pytest.raises(TypeError, match='model compile'):
        MODELS.build(dict(tiny_mae_cfg(), compile='inductor'))


def test_training_config_moves_the_top_level_compile_to_the_model(tmp_path):
    from conftest import DEMO_CONFIG
    cfg = training_config(Config.fromfile(DEMO_CONFIG), work_dir=str(tmp_path),
                          cfg_options=dict(compile=True))
    assert 'compile' not in cfg and cfg.model.compile is True
    with pytest.raises(ConfigError, match='model.compile only'):
        training_config(Config.fromfile(DEMO_CONFIG), work_dir=str(tmp_path),
                        cfg_options={'compile': True, 'model.compile': True})


def _tiny_shipped_cfg(path: str, data_root: str, work_dir: str, backend: str) -> Config:
    """The config at the smallest sizes it permits: a 2-block 32-d encoder on 32-px images of
    8-px patches, a 1-block decoder, 4 images in batches of 2 (2 iterations)."""
    cfg = Config.fromfile(path)
    backbone = cfg.model.backbone
    backbone.arch = dict(embed_dim=32, depth=2, num_heads=2)
    backbone.update(img_size=32, patch_size=8)
    if 'img_size' in cfg:  # the size the pipelines crop to
        cfg.img_size = 32
    cfg.model.neck.update(embed_dim=16, depth=1, num_heads=2)
    compile_opts = cfg.model.compile if isinstance(cfg.model.compile, dict) else {}
    cfg.model.compile = dict(compile_opts, backend=backend)
    loader = cfg.train_dataloader
    loader.update(batch_size=2, num_workers=0, persistent_workers=False, pin_memory=False)
    loader.dataset.data_root = data_root
    for other in ('val_dataloader', 'test_dataloader'):
        if cfg.get(other):
            cfg[other].dataset.data_root = data_root
    for t in loader.dataset.pipeline:
        if 'size' in t:
            t['size'] = 32
    cfg.train_cfg.max_epochs = 1
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0,
                                end=2)]
    cfg.custom_hooks = []
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = work_dir
    cfg.experiment_name = f'compile_{osp.basename(path)}'
    return cfg


@pytest.mark.parametrize('path', COMPILE_CONFIGS,
                         ids=[osp.basename(p) for p in COMPILE_CONFIGS])
def test_shipped_compile_config_trains(path, tmp_path):
    data_root = tmp_path / 'images'
    data_root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        cv2.imwrite(str(data_root / f'{i}.jpg'), rng.integers(0, 256, (48, 64, 3), np.uint8))
    backend = RecordingBackend()
    # by name: the runner writes the config out as text
    name = f'recording_{osp.basename(tmp_path)}'
    register_backend(backend, name=name)
    cfg = training_config(_tiny_shipped_cfg(path, str(data_root), str(tmp_path / 'work'),
                                            name))
    assert not cfg.get('compile')  # mmengine does not compile train_step
    runner = Runner.from_cfg(cfg)
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    assert runner.iter == 2
    after = runner.model.state_dict()
    assert not torch.equal(before['backbone.blocks.0.attn.qkv.weight'],
                           after['backbone.blocks.0.attn.qkv.weight'])
    assert backend.graphs, 'the model was not compiled'
    text = _graph_text(backend.graphs)
    assert 'decoder_pred' in text and 'patch_embed' in text  # the whole training forward
    assert 'adam' not in text.lower()  # the optimizer step ran eagerly
    ckpt = torch.load(osp.join(cfg.work_dir, 'epoch_1.pth'), map_location='cpu',
                      weights_only=False)
    assert set(ckpt['state_dict']) == set(before)  # the checkpoint's keys are the eager model's


@pytest.mark.skipif(not os.environ.get('MIMLAB_INDUCTOR_TESTS'),
                    reason='inductor compiles C++ for about a minute on 2 CPU cores: set '
                    'MIMLAB_INDUCTOR_TESTS=1')
def test_compiled_loss_with_inductor_matches_eager():
    torch.manual_seed(0)
    eager = MODELS.build(tiny_mae_cfg())
    # inductor draws random numbers with its own generator unless told to fall back to
    # torch's: the same masks need the fallback
    compiled = MODELS.build(dict(tiny_mae_cfg(), compile=dict(
        backend='inductor', options=dict(fallback_random=True))))
    compiled.load_state_dict(eager.state_dict())
    images = torch.randn(3, 3, 16, 16)
    results = []
    for model in (eager, compiled):
        torch.manual_seed(1)
        loss = model(images, mode='loss')['loss_rec']
        loss.backward()
        results.append((loss.detach(), model.backbone.blocks[0].attn.qkv.weight.grad.clone()))
    for a, b in zip(*results):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-4)
