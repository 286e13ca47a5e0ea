import json
import os.path as osp
import sys
from importlib import import_module

import pytest
from conftest import REPO, tiny_run_cfg
from mmengine.runner import Runner
from PIL import Image

MFF_DEMO = osp.join(REPO, 'configs/mff/mff_mae_vit-tiny-p4_1xb256-coslr-6e_fashion-mnist.py')
MAE_DEMO = osp.join(REPO, 'configs/mae/mae_vit-tiny-p4_1xb256-coslr-6e_fashion-mnist.py')
# The demo configs' depth (6 blocks, so MFF's layers 0-3 stay valid), narrower.
TINY_MODEL = ['model.backbone.arch.embed_dim=32', 'model.backbone.arch.num_heads=2',
              'model.neck.embed_dim=16', 'model.neck.depth=1', 'model.neck.num_heads=2']


def _tool(name):
    sys.path.insert(0, osp.join(REPO, 'tools', 'analysis_tools'))
    try:
        return import_module(name)
    finally:
        sys.path.pop(0)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A narrow 6-block MAE and MFF (the demo configs' fusion), 2 epochs of 64 images each."""
    runs = {}
    for label in ('mae', 'mff'):
        work = tmp_path_factory.mktemp(label)
        cfg = tiny_run_cfg(work, max_epochs=2)
        cfg.model.backbone.arch.depth = 6
        if label == 'mff':
            cfg.model.update(type='MFF', fusion_neck=dict(type='MultiLevelFusionNeck',
                                                          layers=(0, 1, 2, 3)))
        Runner.from_cfg(cfg).train()
        runs[label] = (str(work), str(work / 'epoch_2.pth'))
    return runs


def test_fusion_weights_are_logged_and_plotted(trained, tmp_path):
    work, _ = trained['mff']
    out = tmp_path / 'not_yet' / 'weights.png'  # the tool creates the folder
    final = _tool('plot_fusion_weights').main([work, '--label', 'MFF', '--out', str(out)])
    weights = final['MFF']
    assert set(weights) == {'block 0', 'block 1', 'block 2', 'block 3', 'block 5'}
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-3)
    assert Image.open(out).size[0] > 300
    with pytest.raises(SystemExit, match='no fusion_w_b'):
        _tool('plot_fusion_weights').main([trained['mae'][0], '--out', str(out)])


def test_frequency_response_tool(trained, tmp_path):
    out = tmp_path / 'not_yet' / 'freq.png'  # the tool creates the folder
    args = []
    for label in ('mae', 'mff'):
        args += ['--model', label.upper(), MFF_DEMO if label == 'mff' else MAE_DEMO,
                 trained[label][1]]
    results = _tool('frequency_response').main(
        args + ['--num-images', '8', '--out', str(out), '--cfg-options', *TINY_MODEL])
    saved = json.loads((out.parent / 'freq.json').read_text())
    for label in ('MAE', 'MFF'):
        rel = saved['models'][label]['relative']
        # 6 blocks; 7x7 token maps have radii 0 .. sqrt(3^2 + 3^2) = 4.2, so bands 0..4
        assert len(rel) == 6 and len(rel[0]) == 5
        assert all(row[0] == 0.0 for row in rel)
    assert results.keys() == {'MAE', 'MFF'} and out.exists()


def test_hessian_tool(trained, tmp_path):
    """A distribution over seeds x batches, on the encoder blocks alone (the parameters MAE and
    MFF share: the fusion neck and the decoder are left out)."""
    out = tmp_path / 'not_yet' / 'hessian.png'  # the tool creates the folder
    results = _tool('hessian_eigenvalue').main(
        ['--model', 'MFF', MFF_DEMO, trained['mff'][1], '--batch-size', '8', '--num-batches',
         '2', '--seeds', '0', '1', '--iters', '8', '--out', str(out), '--cfg-options',
         *TINY_MODEL])
    res = results['MFF']
    from mimlab.apis import init_model, load_config
    options = {k: int(v) for k, v in (pair.split('=') for pair in TINY_MODEL)}
    model = init_model(load_config(MFF_DEMO, options), trained['mff'][1])
    blocks = sum(p.numel() for p in model.backbone.blocks.parameters())
    assert blocks < sum(p.numel() for p in model.parameters()) - 1000  # fusion, decoder left out
    assert res['num_params'] == blocks and res['param_prefix'] == 'backbone.blocks.'
    assert [(r['seed'], r['batch']) for r in res['runs']] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    # largest-magnitude eigenvalues (a barely trained model need not sit at a minimum, so some may
    # be negative), one per (seed, batch): four different values
    assert all(abs(v) > 0 for v in res['values']) and len(set(res['values'])) == 4
    assert res['min'] <= res['mean'] <= res['max'] and res['std'] > 0
    assert out.exists()
    assert json.loads((out.parent / 'hessian.json').read_text())['num_batches'] == 2


def test_linear_probe_tool(trained, tmp_path):
    result = _tool('linear_probe').main(
        [MAE_DEMO, trained['mae'][1], '--max-images', '2000', '--epochs', '10',
         '--out', str(tmp_path / 'probe.json'), '--cfg-options', *TINY_MODEL])
    assert result['num_train'] == 2000 and result['feature_dim'] == 32
    assert 40 < result['test_top1'] <= 100  # 10 classes: chance is 10%
