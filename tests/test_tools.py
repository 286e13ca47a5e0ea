import math
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import DEMO_CONFIG, REPO, TINY_RUN_OPTIONS, WritesAFile, import_tool, tiny_run_cfg
from mmengine.hooks import Hook
from mmengine.runner import Runner
from PIL import Image

from mimlab.apis import init_model, load_config, prepare_batch, reconstruct
from mimlab.engine.checkpoint import load_local_checkpoint
from mimlab.registry import HOOKS, MODELS
from mimlab.visualization import draw_reconstructions, to_uint8_images

PY = sys.executable


def _run_tool(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.run([PY, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_train_py_runs_end_to_end(tmp_path):
    work = tmp_path / 'run'
    proc = _run_tool('tools/train.py', DEMO_CONFIG, '--work-dir', str(work), '--cfg-options',
                     *TINY_RUN_OPTIONS, 'train_cfg.max_epochs=2')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (work / 'epoch_2.pth').exists()
    assert (work / 'last_checkpoint').read_text().strip().endswith('epoch_2.pth')
    assert 'Training finished' in proc.stdout and str(work) in proc.stdout
    logs = [f for f in work.glob('*/*.log')]
    text = logs[0].read_text()
    assert 'eta:' in text and 'loss_rec:' in text and 'Epoch(train) [2][4/4]' in text
    assert 'reconstruction loss of the 2 pictured held-out images' in text
    pictures = sorted(p.name for p in (work / 'vis').glob('reconstruction_iter_*.png'))
    assert pictures == ['reconstruction_iter_4.png', 'reconstruction_iter_8.png']
    w, h = Image.open(work / 'vis' / 'reconstruction_latest.png').size
    assert w > 300 and h > 150  # 2 rows x 4 panels


def test_train_py_reports_bad_input():
    proc = _run_tool('tools/train.py', 'configs/mae/no_such_config.py')
    assert proc.returncode != 0 and 'no_such_config.py does not exist' in proc.stderr


class _CaptureResumeState(Hook):
    seen = {}

    def before_train(self, runner):
        optimizer = runner.optim_wrapper.optimizer
        first = optimizer.param_groups[0]['params'][0]
        _CaptureResumeState.seen.update(
            iter=runner.iter, epoch=runner.epoch, lr=optimizer.param_groups[0]['lr'],
            exp_avg=optimizer.state[first]['exp_avg'].clone(),
            step=float(optimizer.state[first]['step']))


HOOKS.register_module(name='_CaptureResumeState', module=_CaptureResumeState, force=True)


def test_interrupted_run_resumes_at_the_right_iteration(tmp_path):
    # The first run stops after epoch 2 of what will become a 3-epoch run.
    first = Runner.from_cfg(tiny_run_cfg(tmp_path, max_epochs=2))
    first.train()
    ckpt = load_local_checkpoint(str(tmp_path / 'epoch_2.pth'), map_location='cpu')
    assert ckpt['meta']['iter'] == 8

    cfg = tiny_run_cfg(tmp_path, max_epochs=3)
    cfg.resume = True  # what `tools/train.py --resume` sets: the work dir's last checkpoint
    cfg.custom_hooks.append(dict(type='_CaptureResumeState'))
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    seen = _CaptureResumeState.seen
    assert (seen['iter'], seen['epoch']) == (8, 2)
    state = ckpt['optimizer']['state'][0]
    assert seen['step'] == float(state['step']) == 8
    assert torch.equal(seen['exp_avg'], state['exp_avg'])
    assert seen['lr'] == ckpt['optimizer']['param_groups'][0]['lr']
    assert resumed.iter == 12 and (tmp_path / 'epoch_3.pth').exists()


def test_visualize_and_test_tools_on_a_checkpoint(tmp_path):
    runner = Runner.from_cfg(tiny_run_cfg(tmp_path, max_epochs=2))
    runner.train()
    ckpt = str(tmp_path / 'epoch_2.pth')

    vis = import_tool('visualize_reconstruction', 'tools/analysis_tools')
    test = import_tool('test')
    options = ['model.backbone.arch.embed_dim=32', 'model.backbone.arch.depth=2',
               'model.backbone.arch.num_heads=2', 'model.neck.embed_dim=16',
               'model.neck.depth=1', 'model.neck.num_heads=2']
    img = tmp_path / 'shirt.png'
    Image.new('RGB', (40, 30), (200, 30, 30)).save(img)
    out = vis.main([DEMO_CONFIG, ckpt, str(img), '--out', str(tmp_path / 'one.png'),
                    '--cfg-options', *options])
    # the panels: the masked input is zero (the mean colour once un-normalised) on the hidden
    # patches and the input elsewhere; the pasted one is the input on the visible patches and
    # the reconstruction on the hidden ones
    sizes = {key: int(value) for key, value in (o.split('=') for o in options)}
    model = init_model(load_config(DEMO_CONFIG, sizes), ckpt)
    rec = reconstruct(model, prepare_batch(model, [dict(img_path=str(img))],
                                           model.cfg.test_pipeline), seed=0)
    num_patches = rec.mask.shape[1]
    grid, side = math.isqrt(num_patches), rec.original.shape[-1]
    hidden = rec.mask.view(1, 1, grid, grid).repeat_interleave(side // grid, 2) \
        .repeat_interleave(side // grid, 3).expand_as(rec.original)
    assert hidden.float().mean() == rec.mask.sum() / num_patches > 0.5  # mask_ratio 0.75
    assert (rec.masked[hidden] == 0).all()
    assert torch.equal(rec.masked[~hidden], rec.original[~hidden])
    assert torch.equal(rec.pasted[~hidden], rec.original[~hidden])
    assert torch.equal(rec.pasted[hidden], rec.reconstruction[hidden])
    pre = model.data_preprocessor
    masked = to_uint8_images(rec.masked, model.pixel_normalisation)[0]
    hidden_pixels = hidden[0, 0].numpy()
    assert (masked[hidden_pixels] == pre.mean.round().to(torch.uint8).numpy()).all()
    # ... and the picture is those panels drawn
    picture = np.asarray(Image.open(out).convert('RGB'))
    assert np.array_equal(picture, draw_reconstructions(rec, model.pixel_normalisation,
                                                        titles=['shirt.png']))
    out = vis.main([DEMO_CONFIG, ckpt, '--split', 'test', '--num-images', '3', '--out',
                    str(tmp_path / 'three.png'), '--cfg-options', *options])
    assert Image.open(out).size[1] > Image.open(tmp_path / 'one.png').size[1]

    metrics = test.main([DEMO_CONFIG, ckpt, '--work-dir', str(tmp_path / 'test'),
                         '--out', str(tmp_path / 'metrics.json'), '--cfg-options',
                         *TINY_RUN_OPTIONS])
    assert metrics['heldout/num_images'] == 40
    assert 0.05 < metrics['heldout/loss_rec'] < 5.0


def test_dist_train_sh_two_nodes_on_the_cpu(tmp_path):
    # Two "nodes" of one process each on this machine, joined through MASTER_ADDR/PORT as on a
    # real cluster; the 64 images split into 2 iterations per epoch per process.
    work = tmp_path / 'dist'
    bin_dir = osp.dirname(PY)
    procs = []
    for rank in (0, 1):
        # PASSIVE: two processes of 2 OpenMP threads on 2 cores thrash when the threads spin
        env = dict(os.environ, NNODES='2', NODE_RANK=str(rank), MASTER_ADDR='127.0.0.1',
                   PORT='29517', PATH=f'{bin_dir}:{os.environ["PATH"]}',
                   OMP_WAIT_POLICY='PASSIVE')
        procs.append(subprocess.Popen(
            ['bash', 'tools/dist_train.sh', DEMO_CONFIG, '1', '--work-dir', str(work),
             '--cfg-options', *TINY_RUN_OPTIONS, 'train_cfg.max_epochs=2'],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    log = next(work.glob('*/*.log')).read_text()
    assert 'Distributed training: True' in log and 'GPU number: 2' in log  # the world size
    assert 'Epoch(train) [2][2/2]' in log
    assert (work / 'epoch_2.pth').exists()


def test_test_py_refuses_unsafe_checkpoint_unless_unsafe_load(tmp_path):
    test = import_tool('test')
    cfg = tiny_run_cfg(tmp_path, max_epochs=1)
    victim = tmp_path / 'written_by_pickle.txt'
    ckpt = tmp_path / 'downloaded.pth'
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict(),
                    payload=WritesAFile(str(victim))), ckpt)
    argv = [DEMO_CONFIG, str(ckpt), '--work-dir', str(tmp_path / 'test'), '--cfg-options',
            *TINY_RUN_OPTIONS, 'test_dataloader.dataset.indices=16']
    with pytest.raises(SystemExit) as err:
        test.main(argv)
    assert 'unpickle io.open' in str(err.value) and '--unsafe-load' in str(err.value)
    assert not victim.exists()
    try:
        metrics = test.main(argv + ['--unsafe-load'])
    finally:
        test.allow_unsafe_load(False)
    assert victim.exists()  # the opt-in really unpickles what the file asks for
    assert metrics['heldout/num_images'] == 16


def test_train_py_answers_a_typo_in_a_type_in_one_line(tmp_path):
    train = import_tool('train')
    with pytest.raises(SystemExit) as err:
        train.main([DEMO_CONFIG, '--work-dir', str(tmp_path), '--cfg-options',
                    *TINY_RUN_OPTIONS, 'model.neck.type=MAEPretrainDecodr'])
    # the closest name first (other close names, e.g. CAEPretrainDecoder, may follow)
    assert str(err.value).startswith("'MAEPretrainDecodr' is not a registered model type: did "
                                     "you mean 'MAEPretrainDecoder'")
    assert '\n' not in str(err.value)


def test_train_py_answers_a_wrong_data_folder_in_one_line(tmp_path):
    train = import_tool('train')
    (tmp_path / 'empty').mkdir()
    for root, expected in [(tmp_path / 'missing', f"data_root='{tmp_path}/missing' is not a "
                            'folder'),
                           (tmp_path / 'empty', "no images found for split 'train' under "
                            f"data_root='{tmp_path}/empty'")]:
        with pytest.raises(SystemExit) as err:
            train.main([DEMO_CONFIG, '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                        *TINY_RUN_OPTIONS, f'train_dataloader.dataset.data_root={root}'])
        assert expected in str(err.value) and '\n' not in str(err.value)


def test_every_tool_script_imports():
    """Each Python script under tools/ loads (its module-level imports resolve) without running
    its main: a name moved inside the package breaks the tool here, not in a user's shell."""
    import importlib.util
    broken = []
    for folder, _, names in os.walk(osp.join(REPO, 'tools')):
        for name in sorted(names):
            if not name.endswith('.py'):
                continue
            path = osp.join(folder, name)
            spec = importlib.util.spec_from_file_location(f'_tool_{name[:-3]}', path)
            try:
                spec.loader.exec_module(importlib.util.module_from_spec(spec))
            except Exception as err:  # noqa: BLE001 (any failure to load is the finding)
                broken.append(f'{osp.relpath(path, REPO)}: {type(err).__name__}: {err}')
    assert broken == []


_LEAVES_A_GROUP = '''
import atexit, os, sys
import torch.distributed as dist
from mimlab.engine.config_checks import exit_after_process_group, leave_process_group
if sys.argv[1] == 'group':
    dist.init_process_group('gloo', init_method='file://' + sys.argv[2], rank=0, world_size=1)
atexit.register(lambda: print('atexit ran'))
leave_process_group()
print('work done', flush=False)
exit_after_process_group()
print('after the exit call')
'''


@pytest.mark.parametrize('group', ['group', 'none'])
def test_a_rank_that_left_its_group_exits_at_once_with_its_output(tmp_path, group):
    """A rank of a distributed tool run exits with status 0 right after leaving its process
    group (no interpreter teardown), its output flushed; a run without a group ends as usual."""
    proc = subprocess.run([sys.executable, '-c', _LEAVES_A_GROUP, group, str(tmp_path / 'store')],
                          cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'work done' in proc.stdout
    if group == 'group':
        assert 'after the exit call' not in proc.stdout and 'atexit ran' not in proc.stdout
    else:
        assert 'after the exit call' in proc.stdout and 'atexit ran' in proc.stdout
