"""Where mimlab installs its safe checkpoint loader, and that ``import mimlab`` does nothing else.

Each check runs in a fresh process: the test process installs the loader itself (conftest.py).
"""
import glob
import os
import os.path as osp
import subprocess
import sys
import textwrap

from conftest import DEMO_CONFIG, REPO, TINY_RUN
from mmengine.config import Config

# Evil: unpickling it writes a file. Safe-looking: an mmengine checkpoint with a HistoryBuffer,
# which torch's plain weights-only load refuses and mimlab's loader allows.
_PRELUDE = '''
import os, pickle, sys
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import CheckpointLoader

class WritesAFile:
    def __reduce__(self):
        return (open, (VICTIM, 'w'))

def make_files():
    torch.save(dict(state_dict={}, payload=WritesAFile()), EVIL)
    buf = HistoryBuffer()
    buf.update(1.5)
    torch.save(dict(state_dict={}, message_hub=dict(log_scalars=dict(loss=buf))), MMENGINE)

def loader_in_use():
    """'mimlab' when mmengine's loader is mimlab's, 'mmengine' when it is mmengine's own;
    either way the evil file must not run."""
    from mimlab.engine.checkpoint import UnsafeCheckpointError
    try:
        CheckpointLoader.load_checkpoint(EVIL)
    except UnsafeCheckpointError:
        kind = 'mimlab'
    except pickle.UnpicklingError:
        kind = 'mmengine'
    assert not os.path.exists(VICTIM), 'the checkpoint ran code'
    if kind == 'mimlab':
        loaded = CheckpointLoader.load_checkpoint(MMENGINE)
        assert loaded['message_hub']['log_scalars']['loss'].current() == 1.5
    return kind
'''


def _run(tmp_path, body: str) -> str:
    script = tmp_path / 'check.py'
    script.write_text(f'VICTIM = {str(tmp_path / "victim.txt")!r}\n'
                      f'EVIL = {str(tmp_path / "evil.pth")!r}\n'
                      f'MMENGINE = {str(tmp_path / "mmengine.pth")!r}\n'
                      + _PRELUDE + textwrap.dedent(body))
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, str(script)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_import_mimlab_is_light_and_changes_nothing(tmp_path):
    out = _run(tmp_path, '''
        before = set(sys.modules)
        import mimlab
        new = set(sys.modules) - before
        print('mimlab modules:', sorted(m for m in new if m.split('.')[0] == 'mimlab'))
        heavy = ('torch', 'matplotlib', 'mmdet', 'mmseg', 'mmcv', 'mmengine', 'timm')
        print('heavy:', sorted(m for m in new if m.split('.')[0] in heavy))

        # a pretraining model: mimlab's models, nothing downstream, no plotting, no mmcv ops
        from mmengine.registry import init_default_scope
        from mimlab.registry import MODELS
        init_default_scope('mimlab')
        MODELS.build(dict(
            type='MAE', backbone=dict(type='MaskedViT', arch=dict(embed_dim=32, depth=2,
            num_heads=2), img_size=16, patch_size=4, mask_ratio=0.75),
            neck=dict(type='MAEPretrainDecoder', embed_dim=16, depth=1, num_heads=2),
            head=dict(type='PixelReconstructionHead', norm_pix=True)))
        layers = {m.split('.')[1] for m in sys.modules if m.startswith('mimlab.')}
        print('layers:', sorted(layers))
        print('downstream:', sorted(m for m in sys.modules if m.split('.')[0] in
                                    ('matplotlib', 'mmdet', 'mmseg') or m.startswith('mmcv.ops')))
        # the rest of a pretraining run: still no downstream library (the GPU machine ships
        # mmcv-lite, without ops)
        from mimlab.registry import HOOKS, TRANSFORMS
        TRANSFORMS.get('LoadImage'), HOOKS.get('ReconstructionHook')
        print('run:', sorted(m for m in sys.modules if m.split('.')[0] in ('mmdet', 'mmseg')
                             or m.startswith('mmcv.ops')))
        make_files()
        print('loader:', loader_in_use())
    ''')
    assert "mimlab modules: ['mimlab']" in out
    assert 'heavy: []' in out
    assert "layers: ['models', 'registry']" in out
    assert 'downstream: []' in out and 'run: []' in out
    assert 'loader: mmengine' in out  # mmengine's loader is mmengine's own


def test_a_runner_installs_the_loader_when_it_is_built(tmp_path):
    """Built, not run: ``Runner.train`` initialises weights and resumes after that (and after
    ``before_run``; FlexibleRunner's before it)."""
    out = _run(tmp_path, f'''
        from mmengine.config import Config
        from mmengine.runner import Runner
        make_files()
        import mimlab.engine
        print('before:', loader_in_use())
        cfg = Config.fromfile({DEMO_CONFIG!r})
        cfg.merge_from_dict({TINY_RUN!r})
        cfg.work_dir = {str(tmp_path / 'work')!r}
        runner = Runner.from_cfg(cfg)
        print('built:', loader_in_use())
    ''')
    assert 'before: mmengine' in out and 'built: mimlab' in out


def test_runner_less_init_model_installs_the_loader(tmp_path):
    out = _run(tmp_path, f'''
        from mimlab.apis import init_model
        from mimlab.registry import MODELS
        make_files()
        print('before:', loader_in_use())
        model = init_model({osp.join(REPO, 'configs/mae/mae_vit-tiny-p4_1xb256-coslr-6e_'
                                     'fashion-mnist.py')!r})
        path = {str(tmp_path / 'model.pth')!r}
        torch.save(dict(state_dict=model.state_dict(),
                        message_hub=torch.load(MMENGINE, weights_only=False)['message_hub']),
                   path)
        init_model(model.cfg, path)
        print('after:', loader_in_use())
    ''')
    assert 'before: mmengine' in out and 'after: mimlab' in out


def test_an_mmseg_config_installs_the_loader_through_its_hook(tmp_path):
    """mmseg's runtime has no mimlab hook: mimlab's mmseg configs add it, found by scope."""
    config = osp.join(REPO, 'configs/benchmarks/mmseg/upernet_mae-vit-tiny-p4_1xb8-300it_'
                      'ade20k-layout-64x64.py')
    out = _run(tmp_path, f'''
        from mmengine.config import Config
        from mmengine.registry import HOOKS, init_default_scope
        make_files()
        cfg = Config.fromfile({config!r})
        init_default_scope(cfg.default_scope)
        print('before:', loader_in_use())
        HOOKS.build(cfg.default_hooks.safe_checkpoint_loader)
        print('after:', loader_in_use())
    ''')
    assert 'before: mmengine' in out and 'after: mimlab' in out


def test_every_config_installs_the_loader():
    """Pretraining, classification, mmseg and mmdet configs alike (the downstream ones inherit
    mmseg's or mmdet's runtime, not mimlab's)."""
    configs = [p for p in glob.glob(osp.join(REPO, 'configs/**/*.py'), recursive=True)
               if '/_base_/' not in p]
    missing = [osp.relpath(p, REPO) for p in configs
               if 'SafeCheckpointLoaderHook' not in str(Config.fromfile(p).get(
                   'default_hooks', {}).get('safe_checkpoint_loader'))]
    assert missing == []
