"""Long runs watched live: TensorBoard events (read back with tensorboard's own reader), the
online kNN hook (same numbers as knn.py, the same under DDP, one-line errors), the run summary
and its table, and the feature map."""
import csv
import io
import json
import os
import os.path as osp
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from conftest import DEMO_CONFIG, REPO, TINY_RUN, import_tool, tiny_mae_cfg
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mimlab.apis.train import train, training_config
from mimlab.engine.errors import ConfigError
from mimlab.engine.hooks import OnlineKNNHook, TrainStatsHook
from mimlab.evaluation import extract_features, knn_accuracy
from mimlab.experiments.summaries import read_summaries, scalar_curves, summary_table
from mimlab.registry import MODELS

CONFIGS = osp.join(REPO, 'configs')
# The tiny network of the other run tests; the demo's data, batch and schedule.
TINY_MODEL = {k: v for k, v in TINY_RUN.items() if k.startswith('model.')}
KNN_SIZE = 300  # bank and queries of the short run


def _events(work_dir) -> EventAccumulator:
    files = sorted(glob_events(work_dir))
    assert len(files) == 1, files
    acc = EventAccumulator(osp.dirname(files[0]), size_guidance={'scalars': 0, 'images': 0})
    acc.Reload()
    return acc


def glob_events(work_dir):
    for root, _, names in os.walk(work_dir):
        yield from (osp.join(root, n) for n in names if n.startswith('events.out.tfevents'))


def _scalars(acc: EventAccumulator, tag: str) -> dict:
    return {e.step: e.value for e in acc.Scalars(tag)}


def _run(work_dir, config: str, options: dict, max_epochs: int):
    cfg = Config.fromfile(config)
    cfg = training_config(cfg, work_dir=str(work_dir),
                          cfg_options=dict(options, **{'train_cfg.max_epochs': max_epochs}))
    cfg.experiment_name = osp.basename(str(work_dir))
    return train(cfg)


@pytest.fixture(scope='module')
def demo_run(tmp_path_factory):
    """The demo config for 2 epochs of 2,048 images (8 iterations of 256 per epoch) with the tiny
    network: TensorBoard, the online kNN after each epoch, pictures, the summary."""
    work_dir = tmp_path_factory.mktemp('demo_run')
    options = dict(TINY_MODEL, **{
        'train_dataloader.dataset.indices': 2048, 'default_hooks.logger.interval': 1,
        'custom_hooks.0.interval': 4, 'custom_hooks.0.num_images': 2,
        'custom_hooks.1.num_bank': KNN_SIZE, 'custom_hooks.1.num_queries': KNN_SIZE,
        'custom_hooks.1.probe_epochs': 5, 'custom_hooks.1.feature_map': True})
    runner = _run(work_dir, DEMO_CONFIG, options, max_epochs=2)
    return SimpleNamespace(work_dir=work_dir, runner=runner, events=_events(work_dir),
                           log_dir=runner.log_dir)


def test_short_demo_run_writes_loss_lr_grad_norm_throughput_knn_and_pictures_to_tensorboard(
        demo_run):
    acc = demo_run.events
    tags = acc.Tags()
    for tag in ('loss', 'lr', 'grad_norm', 'images_per_s', 'online/knn_top1',
                'online/probe_top1', 'picture/loss_rec'):
        assert tag in tags['scalars'], (tag, tags['scalars'])
    # every iteration logged (interval 1), the same numbers as mmengine's own scalars.json
    local = [json.loads(line) for line in
             open(osp.join(demo_run.log_dir, 'vis_data', 'scalars.json'))]
    from_json = {r['step']: r['loss'] for r in local if 'loss' in r}
    loss = _scalars(acc, 'loss')
    assert sorted(loss) == list(range(1, 17))
    assert loss == pytest.approx(from_json, rel=1e-6)
    lr = _scalars(acc, 'lr')
    assert lr[1] < lr[8]  # the warm-up
    assert all(np.isfinite(v) and v > 0 for v in _scalars(acc, 'grad_norm').values())
    assert all(v > 0 for v in _scalars(acc, 'images_per_s').values())
    # the kNN accuracy after each epoch (8 iterations each), above chance (10 classes)
    knn = _scalars(acc, 'online/knn_top1')
    assert sorted(knn) == [8, 16]
    assert all(v > 10.0 for v in knn.values()), knn
    assert knn == {r['step']: pytest.approx(r['online/knn_top1'], abs=1e-4)
                   for r in local if 'online/knn_top1' in r}
    log = open(osp.join(demo_run.log_dir, osp.basename(demo_run.log_dir) + '.log')).read()
    assert log.count('online kNN top-1') == 2
    # the reconstruction pictures (every 4 iterations and at the end), as images
    images = acc.Images('reconstruction')
    assert [e.step for e in images] == [4, 8, 12, 16, 16]
    png = Image.open(osp.join(demo_run.work_dir, 'vis', 'reconstruction_latest.png'))
    assert (images[-1].width, images[-1].height) == png.size
    # and the queries' feature map at the end
    feature_map = acc.Images('online/feature_map')
    assert [e.step for e in feature_map] == [16]
    png = Image.open(osp.join(demo_run.work_dir, 'vis', 'feature_map.png'))
    assert (feature_map[0].width, feature_map[0].height) == png.size


def test_online_knn_equals_knn_tool_on_the_final_checkpoint(demo_run, tmp_path):
    last = _scalars(demo_run.events, 'online/knn_top1')[16]
    checkpoint = open(osp.join(demo_run.work_dir, 'last_checkpoint')).read().strip()
    features = tmp_path / 'feats.pth'
    options = [f'{k}={v}' for k, v in TINY_MODEL.items()]
    import_tool('extract_features', 'tools/analysis_tools').main(
        [DEMO_CONFIG, checkpoint, '--out', str(features), '--max-images', str(KNN_SIZE),
         '--cfg-options', *options])
    result = import_tool('knn', 'tools/analysis_tools').main([str(features)])
    assert result['num_train'] == result['num_test'] == KNN_SIZE
    assert result['knn_top1'] == pytest.approx(last, abs=1e-4)


def test_summary_json_describes_the_run(demo_run):
    summary = json.load(open(osp.join(demo_run.work_dir, 'summary.json')))
    assert summary['config'] == DEMO_CONFIG
    head = subprocess.run(['git', '-C', REPO, 'rev-parse', 'HEAD'], capture_output=True,
                          text=True).stdout.strip()
    assert summary['git_commit'].split('+')[0] == head
    assert summary['images'] == 2 * 2048 and summary['total_iters'] == 16
    assert summary['wall_time_s'] > 0
    assert summary['images_per_s'] == pytest.approx(4096 / summary['wall_time_s'], rel=0.01)
    assert summary['peak_memory_bytes'] > 50 * 2 ** 20
    hub_loss = demo_run.runner.message_hub.get_scalar('train/loss').current()
    assert summary['final_loss'] == pytest.approx(hub_loss)
    assert summary['final_knn_top1'] == pytest.approx(
        _scalars(demo_run.events, 'online/knn_top1')[16], abs=1e-4)
    assert summary['checkpoint'].endswith('epoch_2.pth') and osp.isfile(summary['checkpoint'])
    assert summary['torch'] == torch.__version__ and summary['device'].startswith('cpu')
    assert summary['start_time'] < summary['end_time']


def test_collect_summaries_makes_one_row_per_run(demo_run, tmp_path):
    second = tmp_path / 'other_run'
    second.mkdir()
    row = json.load(open(osp.join(demo_run.work_dir, 'summary.json')))
    row.update(final_knn_top1=None, final_loss=0.5, peak_memory_bytes=3 * 2 ** 20)
    (second / 'summary.json').write_text(json.dumps(row))
    rows = read_summaries([str(demo_run.work_dir), str(second)])
    table = summary_table(rows, 'md').splitlines()
    assert len(table) == 4 and table[0].startswith('| run | config | final loss')
    cells = [c.strip() for c in table[3].strip('|').split('|')]
    assert cells[0] == str(second) and cells[2] == '0.5000' and cells[3] == '' \
        and cells[6] == '3'
    out = tmp_path / 'runs.csv'
    tool = import_tool('collect_summaries', 'tools/analysis_tools')
    tool.main([str(demo_run.work_dir), str(second), '--format', 'csv', '--out', str(out)])
    parsed = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r['run'] for r in parsed] == [str(demo_run.work_dir), str(second)]
    assert float(parsed[0]['online kNN top-1 (%)']) == pytest.approx(
        _scalars(demo_run.events, 'online/knn_top1')[16], abs=1e-4)
    with pytest.raises(SystemExit, match='no summary.json'):
        tool.main([str(tmp_path / 'nothing_here')])
    # the online kNN curves of the runs (the second has no scalars.json: left out)
    curves = scalar_curves([str(demo_run.work_dir), str(second)], 'online/knn_top1')
    assert list(curves) == [str(demo_run.work_dir)]
    steps, values = curves[str(demo_run.work_dir)]
    assert steps == [8, 16] and values == pytest.approx(
        [_scalars(demo_run.events, 'online/knn_top1')[s] for s in steps], abs=1e-4)
    tool.main([str(demo_run.work_dir), '--curves', str(tmp_path / 'knn.png')])
    assert Image.open(tmp_path / 'knn.png').size[0] > 300


def test_every_config_writes_tensorboard_events_downstream_ones_too():
    configs = sorted(p for p in (osp.join(root, n) for root, _, names in os.walk(CONFIGS)
                                 for n in names if n.endswith('.py'))
                     if '/_base_/' not in p)
    assert len(configs) > 60
    for path in configs:
        cfg = Config.fromfile(path)
        backends = [b['type'] for b in cfg.visualizer.vis_backends]
        assert 'TensorboardVisBackend' in backends and 'LocalVisBackend' in backends, path


# --- the gradient norm -------------------------------------------------------------------------

def _step_with_stats_hook(clip_grad=None, hook=True):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 2))
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=0.1), clip_grad=clip_grad)
    hub = MessageHub.get_instance(f'grad_norm_test_{clip_grad}_{hook}')
    stats = TrainStatsHook()
    if hook:
        stats.before_train(SimpleNamespace(optim_wrapper=wrapper, message_hub=hub))
    wrapper.message_hub = hub
    loss = model(torch.randn(16, 4, generator=torch.Generator().manual_seed(1))).pow(2).sum()
    wrapper.backward(loss)
    expected = torch.cat([p.grad.flatten() for p in model.parameters()]).norm().item()
    wrapper.step()
    stats.after_train(None)
    return model, hub, expected


def test_grad_norm_is_logged_and_changes_no_training_number():
    model, hub, expected = _step_with_stats_hook()
    assert hub.get_scalar('train/grad_norm').current() == pytest.approx(expected, rel=1e-6)
    plain, _, _ = _step_with_stats_hook(hook=False)
    for a, b in zip(model.parameters(), plain.parameters()):
        assert torch.equal(a, b)
    # with clipping mmengine logs the norm before clipping itself; the hook leaves it alone
    _, hub, expected = _step_with_stats_hook(clip_grad=dict(max_norm=0.01))
    assert hub.get_scalar('train/grad_norm').current() == pytest.approx(expected, rel=1e-5)


def test_mff_fusion_weights_and_cae_alignment_mse_reach_tensorboard(tmp_path):
    options = dict(TINY_RUN, **{'model.fusion_neck.layers': (0,), 'custom_hooks.1.num_bank': 20,
                                'custom_hooks.1.num_queries': 20})
    _run(tmp_path / 'mff', osp.join(CONFIGS, 'mff/mff_mae_vit-tiny-p4_1xb256-coslr-6e_fashion-'
                                    'mnist.py'), options, max_epochs=1)
    mff = _events(tmp_path / 'mff')
    weights = [_scalars(mff, f'fusion_w_b{b}') for b in (0, 1)]
    assert all(sorted(w) == [1, 2, 3, 4] for w in weights)
    for step in (1, 4):  # a softmax over the two fused blocks
        assert weights[0][step] + weights[1][step] == pytest.approx(1.0, abs=1e-5)
    assert 'online/knn_top1' in mff.Tags()['scalars']

    cae_options = {k: v for k, v in TINY_RUN.items()
                   if not k.startswith(('model.neck', 'custom_hooks'))}
    cae_options.update({'model.neck.depth': 1, 'model.decoder.depth': 1,
                        'model.backbone.block_min_patches': 2, 'custom_hooks.0.num_bank': 20,
                        'custom_hooks.0.num_queries': 20})
    _run(tmp_path / 'cae', osp.join(CONFIGS, 'cae/cae-pixel_vit-tiny-p4_1xb256-coslr-6e_fashion-'
                                    'mnist.py'), cae_options, max_epochs=1)
    cae = _events(tmp_path / 'cae')
    align, weighted = _scalars(cae, 'align_mse'), _scalars(cae, 'loss_align')
    assert sorted(align) == [1, 2, 3, 4]
    # the logger averages keys with 'loss' over its window and logs the others as they are: the
    # first step is the one where both are that step's value
    assert weighted[1] == pytest.approx(2.0 * align[1], rel=1e-5)
    assert len(set(align.values())) == 4
    assert 'online/knn_top1' in cae.Tags()['scalars']


# --- the online kNN hook -----------------------------------------------------------------------

def _tiny_model(seed: int = 0):
    torch.manual_seed(seed)
    return MODELS.build(tiny_mae_cfg(img_size=28, patch_size=4))


def _hook_for(model, cfg=None, **kwargs) -> OnlineKNNHook:
    hook = OnlineKNNHook(**kwargs)
    hook.before_train(SimpleNamespace(model=model, cfg=cfg or Config.fromfile(DEMO_CONFIG)))
    return hook


def test_online_knn_measures_unmasked_without_gradient_and_keeps_train_mode():
    model = _tiny_model().train()
    hook = _hook_for(model, num_bank=40, num_queries=30, batch_size=16, probe_epochs=2)
    state = torch.get_rng_state()
    result = hook.measure(model)
    assert model.training and all(p.grad is None for p in model.parameters())
    # training draws the masks it would draw without the hook
    assert torch.equal(torch.get_rng_state(), state)
    bank = extract_features(model, hook.datasets['bank'])
    queries = extract_features(model, hook.datasets['query'])
    assert result['knn_top1'] == knn_accuracy(bank, queries, 10)['knn_top1']
    # the features are the whole image's (no mask): the model's own tensor mode
    model.eval()
    with torch.no_grad():
        batch = model.data_preprocessor(
            {'inputs': [hook.datasets['bank'][0]['inputs']]}, training=False)['inputs']
        torch.testing.assert_close(model(batch, mode='tensor').tokens[0, 0], bank[0][0])


def test_measuring_every_iteration_changes_no_training_number(tmp_path):
    weights = []
    for interval in (0, 1):
        options = dict(TINY_RUN, **{'custom_hooks.1.num_bank': 50, 'custom_hooks.1.num_queries':
                                    50, 'custom_hooks.1.interval': interval})
        runner = _run(tmp_path / f'interval_{interval}', DEMO_CONFIG, options, max_epochs=2)
        weights.append({k: v.clone() for k, v in runner.model.state_dict().items()})
        steps = sorted(_scalars(_events(tmp_path / f'interval_{interval}'), 'online/knn_top1'))
        assert steps == ([4, 8] if interval == 0 else list(range(1, 9)))
    for key, value in weights[0].items():
        assert torch.equal(value, weights[1][key]), key


def _knn_worker(rank: int, world_size: int, init_file: str, out: str) -> None:
    torch.set_num_threads(1)
    torch.distributed.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                                         world_size=world_size)
    init_default_scope('mimlab')
    model = _tiny_model()
    hook = _hook_for(model, num_bank=51, num_queries=37, batch_size=8)
    result = hook.measure(model)
    from mimlab.engine.hooks import extract_features_sharded
    feats = extract_features_sharded(model, hook.datasets['bank'], batch_size=8)
    if rank == 0:
        torch.save(dict(result=result, feats=feats), out)
    torch.distributed.destroy_process_group()


def test_online_knn_on_two_gloo_processes_equals_one_process(tmp_path):
    model = _tiny_model()
    hook = _hook_for(model, num_bank=51, num_queries=37, batch_size=8)
    one = hook.measure(model)
    bank = extract_features(model, hook.datasets['bank'], batch_size=8)
    out = str(tmp_path / 'two.pth')
    mp.spawn(_knn_worker, args=(2, str(tmp_path / 'init'), out), nprocs=2)
    two = torch.load(out, weights_only=True)
    assert two['result'] == one
    torch.testing.assert_close(two['feats'][0], bank[0], atol=1e-5, rtol=1e-5)
    assert torch.equal(two['feats'][1], bank[1])


def _write_images(folder, count=3):
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        Image.fromarray(np.full((28, 28, 3), 40 * i, np.uint8)).save(osp.join(folder, f'{i}.png'))


def _folder_cfg(root):
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.train_dataloader.dataset.data_root = str(root)
    return cfg


@pytest.mark.parametrize('case', ['no_labels', 'other_classes', 'no_folder', 'no_encoder'])
def test_online_knn_bad_input_is_one_line_naming_the_key(tmp_path, case):
    model = _tiny_model()
    kwargs = dict(num_bank=4, num_queries=4)
    if case == 'no_labels':
        _write_images(tmp_path / 'train')
        _write_images(tmp_path / 'val')
        kwargs['data_root'], match = str(tmp_path), 'OnlineKNNHook.data_root=.* has no classes'
    elif case == 'other_classes':
        for split, names in (('train', 'ab'), ('val', 'ac')):
            for name in names:
                _write_images(tmp_path / split / name)
        kwargs['data_root'], match = str(tmp_path), "OnlineKNNHook.query_split='test'"
    elif case == 'no_folder':
        kwargs['data_root'], match = str(tmp_path / 'missing'), 'OnlineKNNHook.data_root='
    else:
        model, match = torch.nn.Sequential(torch.nn.Linear(2, 2)), 'model.backbone'
    with pytest.raises(ConfigError, match=match) as err:
        _hook_for(model, **kwargs)
    assert '\n' not in str(err.value)


def test_online_knn_turns_itself_off_on_unlabelled_training_data(tmp_path):
    # the demo config pretraining on a plain folder of images (--data-root) still trains
    _write_images(tmp_path / 'train')
    _write_images(tmp_path / 'val')
    warnings = []
    hook = OnlineKNNHook(num_bank=4, num_queries=4)
    model = _tiny_model()
    hook.before_train(SimpleNamespace(model=model, cfg=_folder_cfg(tmp_path),
                                      logger=SimpleNamespace(warning=warnings.append)))
    assert not hook.enabled and len(warnings) == 1
    assert 'has no classes' in warnings[0] and 'online kNN is off' in warnings[0]
    hook.evaluate(None, 1)  # nothing to measure, nothing logged


def test_online_knn_reads_an_own_labelled_folder(tmp_path):
    for split in ('train', 'val'):
        for name in ('dark', 'light'):
            _write_images(tmp_path / split / name)
    model = _tiny_model()
    hook = _hook_for(model, data_root=str(tmp_path), num_bank=6, num_queries=6, k=1)
    assert hook.classes == ('dark', 'light') and len(hook.datasets['query']) == 6
    assert 0.0 <= hook.measure(model)['knn_top1'] <= 100.0


# --- the feature map ---------------------------------------------------------------------------

def test_embed_2d_keeps_separated_classes_apart():
    from mimlab.visualization.feature_map import embed_2d
    gen = torch.Generator().manual_seed(0)
    centres = torch.randn(2, 16, generator=gen) * 5
    feats = torch.cat([centres[c] + 0.3 * torch.randn(30, 16, generator=gen) for c in (0, 1)])
    points = embed_2d(feats, 'tsne')
    assert points.shape == (60, 2)
    a, b = points[:30], points[30:]
    spread = max(np.linalg.norm(a - a.mean(0), axis=1).max(),
                 np.linalg.norm(b - b.mean(0), axis=1).max())
    assert np.linalg.norm(a.mean(0) - b.mean(0)) > 2 * spread


def test_feature_map_tool_draws_checkpoint_and_random_init_side_by_side(demo_run, tmp_path):
    checkpoint = open(osp.join(demo_run.work_dir, 'last_checkpoint')).read().strip()
    out = tmp_path / 'map.png'
    result = import_tool('feature_map', 'tools/analysis_tools').main(
        [DEMO_CONFIG, checkpoint, '--out', str(out), '--max-images', '80', '--random-init',
         '--method', 'tsne', '--cfg-options', *[f'{k}={v}' for k, v in TINY_MODEL.items()]])
    assert result['method'] == 'tsne'
    width, height = Image.open(out).size
    assert width > 2 * height  # two panels and a legend
    with pytest.raises(SystemExit, match='no class labels'):
        _write_images(tmp_path / 'plain' / 'val')
        _write_images(tmp_path / 'plain' / 'train')
        import_tool('feature_map', 'tools/analysis_tools').main(
            [DEMO_CONFIG, 'none', '--out', str(out), '--data-root', str(tmp_path / 'plain')])


def test_summary_is_one_row_per_run_across_sessions(tmp_path):
    """A finished run started again (``make demo`` twice) keeps its summary; a session resumed
    where the summary's run ended adds its time, images and iterations to it."""
    from conftest import TINY_RUN_OPTIONS

    from mimlab.engine.hooks.run_summary_hook import _continued
    train_tool = import_tool('train')
    argv = [DEMO_CONFIG, '--work-dir', str(tmp_path), '--cfg-options', *TINY_RUN_OPTIONS,
            'train_cfg.max_epochs=1', 'custom_hooks=[]']
    train_tool.main(argv)
    first = (tmp_path / 'summary.json').read_text()
    assert json.loads(first)['iters'] == 4
    train_tool.main(argv + ['--resume'])  # nothing left to train
    assert (tmp_path / 'summary.json').read_text() == first
    before = dict(start_time='a', wall_time_s=10.0, iters=4, images=64, total_iters=4,
                  peak_memory_bytes=300)
    after = dict(start_time='b', end_time='c', wall_time_s=6.0, iters=2, images=32,
                 total_iters=6, peak_memory_bytes=200, final_loss=0.5)
    run = _continued(before, after)
    assert run['start_time'] == 'a' and run['end_time'] == 'c' and run['sessions'] == 2
    assert (run['wall_time_s'], run['iters'], run['images'], run['total_iters']) == (16, 6, 96, 6)
    assert run['images_per_s'] == 6.0 and run['peak_memory_bytes'] == 300
    assert run['final_loss'] == 0.5
