"""Preemption: a signal saves at the iteration the run is on and stops; the resumed run starts at
the next unseen sample and equals an uninterrupted one bit for bit, with persistent data-loader
workers, with 2 processes, and in an iteration-based mmseg fine-tune."""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from conftest import DEMO_CONFIG, FASHION_MNIST, REPO, TINY_RUN_OPTIONS, import_tool
from mmengine.runner import CheckpointLoader

from mimlab.datasets import ResumableSampler, SeededSamples
from mimlab.engine.errors import ConfigError
from mimlab.engine.hooks import PreemptionHook
from mimlab.engine.hooks.random_state_hook import check_resume_state

PY = sys.executable
# 2 epochs of 12 iterations of 4 images, 2 persistent data-loader workers
WORKERS_RUN = [*TINY_RUN_OPTIONS, 'train_cfg.max_epochs=2', 'train_dataloader.batch_size=4',
               'train_dataloader.dataset.indices=48', 'train_dataloader.num_workers=2',
               'train_dataloader.persistent_workers=True']


def _env(**extra) -> dict:
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1', OMP_WAIT_POLICY='PASSIVE',
               PATH=f'{osp.dirname(PY)}:{os.environ["PATH"]}')
    env.pop('MIMLAB_FAULT', None)
    env.update(extra)
    return env


def _start(work_dir, options, config=DEMO_CONFIG, fault=None, resume=False, data_root=None,
           **env) -> subprocess.Popen:
    cmd = [PY, 'tests/train_with_faults.py', config, '--work-dir', str(work_dir)]
    cmd += ['--data-root', data_root] if data_root else []
    cmd += ['--cfg-options', *options] + ['--resume'] * resume
    return subprocess.Popen(cmd, cwd=REPO, env=_env(**(dict(MIMLAB_FAULT=fault) if fault else {}),
                                                    **env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _launch(work_dir, options, port, fault=None, resume=False, **env) -> subprocess.Popen:
    """2 processes through tools/dist_train.sh (gloo on the CPU), run by train_with_faults.py."""
    # dist_train.sh with the fault-injecting entry point in place of tools/train.py
    with open(osp.join(REPO, 'tools', 'dist_train.sh')) as f:
        text = f.read()
    script = work_dir.parent / f'dist_{port}.sh'
    script.write_text(text.replace('ROOT="$(cd "$(dirname "$0")/.." && pwd)"', f'ROOT={REPO}')
                      .replace('"$ROOT/tools/train.py"', '"$ROOT/tests/train_with_faults.py"'))
    cmd = ['bash', str(script), DEMO_CONFIG, '2', '--work-dir', str(work_dir),
           '--cfg-options', *options] + ['--resume'] * resume
    extra = dict(PORT=str(port), **env)
    if fault:
        extra['MIMLAB_FAULT'] = fault
    return subprocess.Popen(cmd, cwd=REPO, env=_env(**extra), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen, timeout=400) -> str:
    out = proc.communicate(timeout=timeout)[0]
    if proc.returncode != 0:
        errors = [line for line in out.splitlines() if 'Error' in line]
        raise AssertionError('\n'.join([out[-3000:], *errors[:10]]))
    return out


def _logged(work_dir) -> dict:
    """step -> (loss, loss_rec or the first logged loss part, lr) over all runs' logs, a later
    run's entry replacing an earlier one's."""
    steps = {}
    for log in sorted(work_dir.glob('*/vis_data/scalars.json')):
        for line in log.read_text().splitlines():
            entry = json.loads(line)
            if 'loss' in entry:
                steps[entry['step']] = tuple(entry[k] for k in sorted(entry)
                                             if 'loss' in k or k == 'lr')
    return steps


def _steps_of_last_run(work_dir) -> list:
    """The steps logged by the latest run in ``work_dir`` (run folders are named by time)."""
    log = sorted(work_dir.glob('*/vis_data/scalars.json'))[-1]
    return [json.loads(line)['step'] for line in log.read_text().splitlines()
            if 'loss' in json.loads(line)]


def _wait_for_step(work_dir, step: int, proc: subprocess.Popen, timeout=300) -> None:
    end = time.time() + timeout
    while time.time() < end:
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        if max(_logged(work_dir), default=0) >= step:
            return
        time.sleep(0.1)
    raise AssertionError(f'no step {step} logged in {timeout} s')


def _assert_same_checkpoints(a_path, b_path) -> None:
    a, b = (CheckpointLoader.load_checkpoint(str(p)) for p in (a_path, b_path))
    assert a['meta']['iter'] == b['meta']['iter']
    for name, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][name]), name
    for i, state in a['optimizer']['state'].items():
        for key, value in state.items():
            assert torch.equal(value, b['optimizer']['state'][i][key]), (i, key)
    assert a['param_schedulers'] == b['param_schedulers']


def _stopped_at(out: str, signal_name='SIGTERM') -> int:
    found = re.search(rf'stopped by {signal_name} after iteration (\d+); saved (\S+)', out)
    assert found, out[-3000:]
    assert 'Resume with: python tools/train.py' in out and out.rstrip().endswith('--resume') \
        or '--resume (launched by' in out
    return int(found.group(1))


def test_sigterm_mid_epoch_saves_there_and_the_resumed_run_equals_an_uninterrupted_one(
        tmp_path):
    whole, broken = tmp_path / 'uninterrupted', tmp_path / 'signalled'
    uninterrupted = _start(whole, WORKERS_RUN)
    run = _start(broken, WORKERS_RUN, fault='slow:0.25')
    _wait_for_step(broken, 15, run)  # epoch 2 is iterations 13-24
    sent = time.time()
    run.send_signal(15)  # SIGTERM, from this process
    out = _finish(run, timeout=60)
    assert time.time() - sent < 60
    stop = _stopped_at(out)
    assert 15 <= stop < 24
    ckpt = broken / f'iter_{stop}.pth'
    meta = CheckpointLoader.load_checkpoint(str(ckpt))['meta']
    assert (meta['epoch'], meta['iter']) == (1, stop)  # inside the second epoch
    assert (broken / 'last_checkpoint').read_text() == str(ckpt)
    assert max(_logged(broken)) == stop and not (broken / 'epoch_2.pth').exists()

    resumed = _finish(_start(broken, WORKERS_RUN, resume=True))
    assert 'Advance dataloader' not in resumed  # no replay of the epoch's first batches
    assert _steps_of_last_run(broken) == list(range(stop + 1, 25))
    _finish(uninterrupted)
    logged = _logged(whole)
    assert sorted(logged) == list(range(1, 25))
    assert _logged(broken) == logged  # all 24 losses and lr, bit for bit
    assert logged[24][0] < logged[1][0] - 0.05
    _assert_same_checkpoints(whole / 'epoch_2.pth', broken / 'epoch_2.pth')


def _rank_pid(launcher_pid: int, rank: int) -> int:
    """The pid of the process of ``rank`` among the children of torchrun."""
    for path in glob.glob(f'/proc/{launcher_pid}/task/*/children'):
        for pid in open(path).read().split():
            environ = open(f'/proc/{pid}/environ', 'rb').read().split(b'\0')
            if f'RANK={rank}'.encode() in environ:
                return int(pid)
    raise AssertionError(f'no rank {rank} under {launcher_pid}')


def test_two_processes_stop_at_the_same_iteration_and_resume_exactly(tmp_path):
    # 2 processes x 4 images, 96 images: 12 iterations per epoch; one persistent worker each
    options = [o for o in WORKERS_RUN if 'num_workers' not in o and 'indices' not in o] + [
        'train_dataloader.num_workers=1', 'train_dataloader.dataset.indices=96',
        'env_cfg.dist_cfg.backend=gloo']
    whole, broken = tmp_path / 'uninterrupted', tmp_path / 'signalled'
    uninterrupted = _launch(whole, options, 29541)
    run = _launch(broken, options, 29543, fault='slow:0.25')
    _wait_for_step(broken, 15, run)
    os.kill(_rank_pid(run.pid, 1), 15)  # SIGTERM to rank 1 alone: rank 0 stops with it
    out = _finish(run, timeout=120)
    stop = _stopped_at(out)
    assert 15 <= stop < 24
    assert CheckpointLoader.load_checkpoint(str(broken / f'iter_{stop}.pth'))['meta'][
        'iter'] == stop
    # resumed by one process: refused, saying why and how to go on
    one = _start(broken, options, resume=True)
    out = one.communicate(timeout=300)[0]
    assert one.returncode == 1 and out.strip().splitlines()[-1] == (
        f'--resume: {broken}/iter_{stop}.pth was written by a run of 2 process(es), this run '
        'has 1: each process has its own share of every epoch and its own random draws, so the '
        'run cannot go on where it stopped. Resume with 2 process(es) (e.g. tools/dist_train.sh '
        'CONFIG 2 --resume), or start a new run from its weights with --cfg-options '
        f'load_from={broken}/iter_{stop}.pth (without --resume)')
    _finish(_launch(broken, options, 29543, resume=True))
    assert _steps_of_last_run(broken) == list(range(stop + 1, 25))
    _finish(uninterrupted)
    logged = _logged(whole)
    assert sorted(logged) == list(range(1, 25))
    assert _logged(broken) == logged
    _assert_same_checkpoints(whole / 'epoch_2.pth', broken / 'epoch_2.pth')


SEG_GARMENTS = osp.join(REPO, 'configs/benchmarks/mmseg/'
                        'upernet_mae-vit-tiny-p4_1xb8-600it_garments-64x64.py')


def test_killed_iteration_based_mmseg_fine_tune_resumes_exactly(tmp_path):
    from mimlab.datasets.scenes import garment_scenes, write_ade20k_layout
    data_root = write_ade20k_layout(str(tmp_path / 'ade'), 8, 2, seed=0,
                                    scenes=garment_scenes(64, FASHION_MNIST))
    # 5 iterations of 3 scenes (8 scenes: the data order wraps around into a second pass), a
    # checkpoint every 2, one persistent worker
    options = ['model.backbone.init_cfg=None', 'train_dataloader.batch_size=3',
               'train_dataloader.num_workers=1', 'train_dataloader.persistent_workers=True',
               'train_cfg.max_iters=5', 'train_cfg.val_interval=100',
               'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1']
    whole, broken = tmp_path / 'uninterrupted', tmp_path / 'killed'
    uninterrupted = _start(whole, options, SEG_GARMENTS, data_root=data_root)
    killed = _start(broken, options, SEG_GARMENTS, fault='iter:3', data_root=data_root)
    out = killed.communicate(timeout=300)[0]
    assert killed.returncode == -9, out[-3000:]
    assert (broken / 'last_checkpoint').read_text() == str(broken / 'iter_2.pth')
    resumed = _finish(_start(broken, options, SEG_GARMENTS, resume=True, data_root=data_root))
    assert 'Advance dataloader' not in resumed and 'drawing and dropping' not in resumed
    assert _steps_of_last_run(broken) == [3, 4, 5]
    _finish(uninterrupted)
    logged = _logged(whole)
    assert sorted(logged) == list(range(1, 6))
    assert _logged(broken) == logged
    _assert_same_checkpoints(whole / 'iter_5.pth', broken / 'iter_5.pth')


# --- the parts, one at a time


class _Draws:
    """A dataset whose item is what numpy's global generator draws for it."""

    def __len__(self):
        return 10

    def __getitem__(self, index):
        return index, np.random.rand()


def test_resumable_sampler_keeps_the_default_order_and_starts_part_way():
    from mmengine.dataset import DefaultSampler
    sampler = ResumableSampler(_Draws(), seed=3)
    sampler.set_epoch(2)
    expected = DefaultSampler(_Draws(), seed=3)
    expected.set_epoch(2)
    pairs = list(sampler)
    assert [i for i, _ in pairs] == list(expected)
    sampler.skip(7)
    assert list(sampler) == pairs[7:]  # the next pass only; then whole epochs again
    assert list(sampler) == pairs
    endless = ResumableSampler(_Draws(), seed=3, infinite=True)
    endless.skip(23)  # 2 epochs of 10, then 3 into the third
    stream = iter(endless)
    assert [next(stream) for _ in range(9)] == _epoch(2)[3:] + _epoch(3)[:2]
    assert [i for i, _ in _epoch(0)] != [i for i, _ in _epoch(1)]  # reshuffled every epoch


def test_a_sampler_that_cannot_start_part_way_draws_and_drops_the_batches_before():
    from mimlab.engine.loops import _batches_from
    loader = torch.utils.data.DataLoader(list(range(10)), batch_size=2)  # SequentialSampler
    assert [b.tolist() for b in _batches_from(loader, 3)] == [[6, 7], [8, 9]]
    endless = _batches_from(loader, 4, endless=True)
    assert [next(endless).tolist() for _ in range(3)] == [[8, 9], [0, 1], [2, 3]]
    resumable = torch.utils.data.DataLoader(SeededSamples(list(range(10))), batch_size=2,
                                            sampler=ResumableSampler(list(range(10)), seed=0))
    whole = [b.tolist() for b in resumable]
    assert [b.tolist() for b in _batches_from(resumable, 3)] == whole[3:]


def _epoch(epoch):
    sampler = ResumableSampler(_Draws(), seed=3)
    sampler.set_epoch(epoch)
    return list(sampler)


def test_a_samples_augmentation_depends_on_seed_epoch_and_index_only():
    data = SeededSamples(_Draws())
    keys = _epoch(0)
    forward = [data[k] for k in keys]
    backward = [data[k] for k in reversed(keys)][::-1]  # another worker, another history
    assert forward == backward
    assert len({draw for _, draw in forward}) == 10
    assert [d for _, d in forward] != [d for _, d in (data[k] for k in _epoch(1))]
    # a worker process draws the same
    loader = torch.utils.data.DataLoader(data, sampler=ResumableSampler(_Draws(), seed=3),
                                         batch_size=5, num_workers=2, collate_fn=list)
    assert [s for batch in loader for s in batch] == forward


def test_bad_input_is_named():
    with pytest.raises(ConfigError, match=r"PreemptionHook signals \(default_hooks.preemption."
                       r"signals\): 'SIGTERMM' is not a signal name"):
        PreemptionHook(signals=('SIGTERMM',))
    assert PreemptionHook(signals=('TERM', 'SIGUSR2')).signals == [15, 12]
    saved = dict(world_size=2, sampler=dict(batch_size=4, dataset_size=96))
    with pytest.raises(ConfigError, match=r'--resume: w/iter_5.pth was written by a run of 2 '
                       r'process\(es\), this run has 1: .* tools/dist_train.sh CONFIG 2 --resume'
                       r'.* load_from=w/iter_5.pth \(without --resume\)'):
        check_resume_state(saved, dict(saved, world_size=1), 'w/iter_5.pth')
    with pytest.raises(ConfigError, match=r'train_dataloader batch_size 4 -> 8'):
        check_resume_state(saved, dict(saved, sampler=dict(batch_size=8, dataset_size=96)),
                           'w/iter_5.pth')
    check_resume_state(saved, dict(saved), 'w/iter_5.pth')


def test_train_py_refuses_bad_resume_and_interval_options(tmp_path):
    train = import_tool('train')
    base = [DEMO_CONFIG, '--work-dir', str(tmp_path), '--cfg-options', *TINY_RUN_OPTIONS,
            'train_cfg.max_epochs=2']
    with pytest.raises(SystemExit) as err:
        train.main(base + ['default_hooks.checkpoint.by_epoch=False',
                           'default_hooks.checkpoint.interval=9'])
    assert 'default_hooks.checkpoint.interval=9 (by_epoch=False: iterations) is longer than ' \
        'the run (8 iterations: 2 epochs of 4 iterations)' in str(err.value)
    with pytest.raises(SystemExit) as err:
        train.main(base + ["default_hooks.preemption.signals=['SIGFOO']"])
    assert "'SIGFOO' is not a signal name" in str(err.value) and '\n' not in str(err.value)
    # a checkpoint of another config: what differs, and how to go on
    train.main(base[:-1] + ['train_cfg.max_epochs=1', 'custom_hooks=[]'])
    with pytest.raises(SystemExit) as err:
        train.main(base[:-1] + ['train_cfg.max_epochs=1', 'custom_hooks=[]',
                                'model.backbone.mask_ratio=0.5', 'optim_wrapper.optimizer.lr=0.01',
                                '--resume'])
    assert str(err.value) == (
        f'--resume: {tmp_path}/epoch_1.pth was trained with another config (model.backbone.'
        'mask_ratio: 0.75 -> 0.5; optim_wrapper.optimizer.lr: 0.0015 -> 0.01). Resume with the '
        "config and options it was started with (its text is in the checkpoint, meta['cfg'], "
        'and in the work dir), or start a new run from its weights with --cfg-options '
        f'load_from={tmp_path}/epoch_1.pth (without --resume)')


def test_resume_command():
    from mimlab.engine.resume import resume_command
    assert resume_command(['c.py', '--work-dir', 'w', '--resume', 'w/epoch_1.pth',
                           '--cfg-options', 'a=1']) == \
        'python tools/train.py c.py --work-dir w --cfg-options a=1 --resume'
    assert resume_command(['c.py', '--launcher', 'pytorch', '--local-rank=0']).startswith(
        'python tools/train.py c.py --resume (launched by pytorch: rerun the launcher')


def test_resume_config_differences_are_named_key_by_key(tmp_path):
    """What check_resume_config names: a part one config lacks ('present'/'absent', with its
    architecture keys, in key order), a key set to None like a missing one, a list of another
    length whole and one of the same length item by item."""
    from mmengine.config import Config

    from mimlab.engine.resume import check_resume_config
    old = dict(model=dict(type='MAE', backbone=dict(type='ViT', depth=2, num_classes=None),
                          neck=dict(type='Neck', embed_dim=8, norm_cfg=dict(type='BN'))),
               optim_wrapper=dict(betas=[0.9, 0.95]), param_scheduler=[dict(type='A')])
    path = str(tmp_path / 'epoch_1.pth')
    torch.save(dict(meta=dict(cfg=Config(old).pretty_text, experiment_name='run1')), path)

    def refusal(**new) -> str:
        cfg = Config(dict(old, **new, resume=True, load_from=path))
        with pytest.raises(ConfigError) as err:
            check_resume_config(cfg)
        return str(err.value)

    assert refusal(model=dict(type='MAE', backbone=dict(type='ViT', depth=3))) == (
        f'--resume: {path} (trained as run1) is a checkpoint of another model than this '
        "config's (model.backbone.depth: 2 in the checkpoint, 3 here; model.neck: present in the "
        'checkpoint, absent here; model.neck.embed_dim: 8 in the checkpoint, absent here ...): '
        'resume with the config it was trained with, or start a new run')
    message = refusal(optim_wrapper=dict(betas=[0.9, 0.99]),
                      param_scheduler=[dict(type='A'), dict(type='B')])
    assert "(optim_wrapper.betas.1: 0.95 -> 0.99; param_scheduler: [{'type': 'A'}] -> " \
        "[{'type': 'A'}, {'type': 'B'}]). Resume with" in message
    check_resume_config(Config(dict(old, resume=True, load_from=path)))  # the same: accepted


def _fake_commands(folder, *names) -> str:
    """Scripts that append their arguments to folder/NAME.log; returns the folder."""
    folder.mkdir(exist_ok=True)
    for name in names:
        path = folder / name
        path.write_text(f'#!/bin/sh\necho "$@" >> "{folder}/{name}.log"\n')
        path.chmod(0o755)
    return str(folder)


def test_slurm_train_sh_submits_a_requeueable_job_whose_every_start_resumes(tmp_path):
    bin_dir = _fake_commands(tmp_path / 'bin', 'sbatch', 'srun')
    env = dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}')
    env.pop('SLURM_JOB_ID', None)
    cmd = ['bash', 'tools/slurm_train.sh', 'gpu', 'mae', DEMO_CONFIG, str(tmp_path / 'w'),
           '--amp']
    subprocess.run(cmd, cwd=REPO, env=env, check=True)
    sbatch = (tmp_path / 'bin' / 'sbatch.log').read_text()
    assert '--requeue' in sbatch and '--signal=USR1@90' in sbatch
    wrapped = re.search(r'--wrap=(.*)', sbatch).group(1)
    assert 'tools/slurm_train.sh gpu mae' in wrapped and wrapped.rstrip().endswith('--amp')
    # the batch job runs the same script inside its allocation: srun, train.py --resume
    subprocess.run(cmd, cwd=REPO, env=dict(env, SLURM_JOB_ID='77'), check=True)
    srun = (tmp_path / 'bin' / 'srun.log').read_text()
    assert '--signal=USR1@90' in srun
    assert re.search(r'tools/train.py \S+ --work-dir=\S+ --launcher slurm --resume --amp', srun)


def test_sigusr1_under_slurm_requeues_the_job_after_the_checkpoint(tmp_path):
    bin_dir = _fake_commands(tmp_path / 'bin', 'scontrol')
    work = tmp_path / 'w'
    run = _start(work, [*TINY_RUN_OPTIONS, 'train_cfg.max_epochs=1', 'custom_hooks=[]'],
                 fault='signal:SIGUSR1@2', SLURM_JOB_ID='4242',
                 PATH=f'{bin_dir}:{osp.dirname(PY)}:{os.environ["PATH"]}')
    out = _finish(run)
    assert _stopped_at(out, 'SIGUSR1') == 2 and 'the SLURM job is requeued' in out
    assert (tmp_path / 'bin' / 'scontrol.log').read_text() == 'requeue 4242\n'
    assert CheckpointLoader.load_checkpoint(str(work / 'iter_2.pth'))['meta']['iter'] == 2


def test_a_second_signal_or_a_kill_during_the_save_leaves_a_loadable_checkpoint(tmp_path):
    options = [*TINY_RUN_OPTIONS, 'train_cfg.max_epochs=2', 'custom_hooks=[]']
    # a second SIGTERM while iter_6.pth is written: the save goes on
    again = _finish(_start(tmp_path / 'again', options,
                           fault='signal:SIGTERM@6,signal-in-save:iter_6.pth'))
    assert _stopped_at(again) == 6 and 'received SIGTERM again' in again
    assert CheckpointLoader.load_checkpoint(str(tmp_path / 'again' / 'iter_6.pth'))['meta'][
        'iter'] == 6
    # killed inside that save: epoch_1.pth stays the resume point, and the run resumes
    killed = _start(tmp_path / 'killed', options, fault='signal:SIGTERM@6,save:iter_6.pth')
    assert killed.wait(timeout=300) == -9
    assert (tmp_path / 'killed' / 'last_checkpoint').read_text() == str(
        tmp_path / 'killed' / 'epoch_1.pth')
    _finish(_start(tmp_path / 'killed', options, resume=True))
    assert _steps_of_last_run(tmp_path / 'killed') == [5, 6, 7, 8]
