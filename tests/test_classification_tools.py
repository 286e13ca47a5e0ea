"""The evaluation tools: cached features, linear probe and kNN on the cache, robustness."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import DEMO_CONFIG, REPO, import_tool
from mmengine.config import Config
from mmengine.runner import save_checkpoint
from PIL import Image

from mimlab.apis import load_features, save_features
from mimlab.evaluation import knn_accuracy
from mimlab.registry import MODELS

FT_DEMO = osp.join(REPO, 'configs/benchmarks/classification',
                   'finetune_mae-vit-tiny-p4_1xb256-coslr-5e_fashion-mnist.py')
TINY_CLS = ['model.backbone.arch.embed_dim=32', 'model.backbone.arch.depth=2',
            'model.backbone.arch.num_heads=2', 'model.backbone.init_cfg=None']
TINY_MAE = ['model.backbone.arch.embed_dim=32', 'model.backbone.arch.depth=2',
            'model.backbone.arch.num_heads=2', 'model.neck.embed_dim=16', 'model.neck.depth=1',
            'model.neck.num_heads=2']


def _tool(name):
    return import_tool(name, 'tools/analysis_tools')


def clusters(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(4, 8, generator=torch.Generator().manual_seed(99)) * 2
    y = torch.arange(n) % 4
    return centres[y] + torch.randn(n, 8, generator=g), y


def test_knn_and_probe_tools_read_cached_features(tmp_path):
    path = str(tmp_path / 'feats.pth')
    train, test = clusters(400, 0), clusters(100, 1)
    save_features(path, dict(train=train, test=test), classes=list('abcd'), pool='cls')
    result = _tool('knn').main([path, '--out', str(tmp_path / 'knn.json')])
    expected = knn_accuracy(train, test, num_classes=4, k=20, temperature=0.07)['knn_top1']
    assert result['knn_top1'] == expected and result['k'] == 20
    assert result['temperature'] == 0.07 and result['num_train'] == 400
    assert json.loads((tmp_path / 'knn.json').read_text())['knn_top1'] == expected
    assert 80 < expected <= 100  # separable clusters (chance is 25%)
    assert _tool('knn').main([path, '--k', '1'])['knn_top1'] != expected or expected == 100
    probe = _tool('linear_probe').main(['--features', path, '--epochs', '20'])
    assert probe['num_train'] == 400 and probe['test_top1'] > 80
    with pytest.raises(SystemExit, match='does not exist'):
        _tool('knn').main([str(tmp_path / 'missing.pth')])
    torch.save({'a': 1}, tmp_path / 'other.pth')
    with pytest.raises(SystemExit, match='not a features file'):
        _tool('knn').main([str(tmp_path / 'other.pth')])


def test_extract_features_tool_caches_what_the_probe_would_compute(tmp_path):
    out = str(tmp_path / 'f.pth')
    summary = _tool('extract_features').main(
        [DEMO_CONFIG, 'none', '--out', out, '--max-images', '40', '--cfg-options', *TINY_MAE])
    assert summary['num_train'] == summary['num_test'] == 40 and summary['feature_dim'] == 32
    record = load_features(out, ('train', 'test'))
    feats, labels = record['splits']['test']
    assert feats.shape == (40, 32) and labels.dtype == torch.int64
    assert record['classes'][9] == 'Ankle boot' and record['meta']['checkpoint'] == 'none'
    # features of the same random init (seed 0) computed directly agree
    from mimlab.apis import init_model, load_config
    from mimlab.datasets import build_split_dataset
    from mimlab.evaluation import extract_features
    torch.manual_seed(0)
    model = init_model(load_config(DEMO_CONFIG, dict(
        (o.split('=')[0], int(o.split('=')[1])) for o in TINY_MAE)))
    direct = extract_features(model, build_split_dataset(model.cfg, 'test', indices=40))
    torch.testing.assert_close(direct[0], feats)


@pytest.fixture(scope='module')
def tiny_classifier_ckpt(tmp_path_factory):
    cfg = Config.fromfile(FT_DEMO)
    cfg.merge_from_dict({o.split('=')[0]: None if o.endswith('None') else int(o.split('=')[1])
                         for o in TINY_CLS})
    torch.manual_seed(0)
    model = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    path = str(tmp_path_factory.mktemp('cls') / 'cls.pth')
    save_checkpoint(model.state_dict(), path)
    return path


def test_robustness_tool_on_a_tiny_set(tiny_classifier_ckpt, tmp_path):
    from mimlab.datasets.transforms import corruption_names
    out = tmp_path / 'rob'
    common = [FT_DEMO, tiny_classifier_ckpt, '--max-images', '6', '--severities', '1', '5']
    result = _tool('robustness').main(common + ['--out-dir', str(out), '--cfg-options',
                                                *TINY_CLS])
    assert list(result['top1']) == list(corruption_names()) and len(result['top1']) == 15
    for name, by_severity in result['top1'].items():
        assert set(by_severity) == {'1', '5'}
        assert result['per_corruption'][name] == pytest.approx(np.mean(list(
            by_severity.values())))
        assert all(v in {100 * k / 6 for k in range(7)} for v in by_severity.values())
    assert result['mean'] == pytest.approx(np.mean(list(result['per_corruption'].values())))
    assert json.loads((out / 'robustness.json').read_text())['top1'] == result['top1']
    assert Image.open(out / 'robustness.png').size[0] > 300
    # the same seed draws the same corruptions
    again = _tool('robustness').main(common + ['--out-dir', str(tmp_path / 'again'),
                                               '--corruptions', 'gaussian_noise',
                                               '--cfg-options', *TINY_CLS])
    assert again['top1']['gaussian_noise'] == result['top1']['gaussian_noise']
    assert again['clean_top1'] == result['clean_top1']
    with pytest.raises(SystemExit):
        _tool('robustness').main(common + ['--out-dir', str(out), '--corruptions', 'rain'])


def test_every_corruption_runs_on_28px_grey_images_and_changes_them():
    from conftest import FASHION_MNIST

    from mimlab.datasets import ImageDataset
    from mimlab.datasets.transforms import corrupt_image, corruption_names
    img = np.repeat(ImageDataset(FASHION_MNIST, split='test').get_data_info(0)['img'][..., None],
                    3, axis=2)
    for name in corruption_names():
        for severity in (1, 5):
            np.random.seed(0)
            out = corrupt_image(img, name, severity)
            assert out.shape == (28, 28, 3) and out.dtype == np.uint8, name
            assert not np.array_equal(out, img), (name, severity)
    with pytest.raises(ValueError, match='uint8'):
        corrupt_image(img.astype(np.float32), 'fog', 1)
