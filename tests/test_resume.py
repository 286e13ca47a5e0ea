"""Kill-and-resume: a run SIGKILLed at several points and resumed each time ends exactly where an
uninterrupted run ends (same weights, optimizer state and logged losses, bit for bit)."""
import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import DEMO_CONFIG, REPO, TINY_RUN_OPTIONS, tiny_run_cfg
from mmengine.runner import CheckpointLoader, Runner

from mimlab.engine.checkpoint import remove_stale_temporaries
from mimlab.engine.workdir import latest_checkpoint
from mimlab.engine.hooks import get_random_state, set_random_state

SIGKILLED = -9


def test_random_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    np.random.normal()  # numpy caches a second gaussian: that is part of its state too
    path = tmp_path / 'ckpt.pth'
    torch.save(dict(random_state=get_random_state()), path)
    expected = (torch.rand(5), np.random.normal(size=3), random.random())
    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    set_random_state(CheckpointLoader.load_checkpoint(str(path))['random_state'])
    again = (torch.rand(5), np.random.normal(size=3), random.random())
    assert torch.equal(again[0], expected[0])
    assert np.array_equal(again[1], expected[1]) and again[2] == expected[2]


def _start(work_dir, fault=None, resume=False) -> subprocess.Popen:
    # One thread each: the same arithmetic in every process, and the uninterrupted run can go
    # side by side with the interrupted ones.
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    env.pop('MIMLAB_FAULT', None)
    if fault:
        env['MIMLAB_FAULT'] = fault
    cmd = [sys.executable, 'tests/train_with_faults.py', DEMO_CONFIG, '--work-dir', str(work_dir),
           '--cfg-options', *TINY_RUN_OPTIONS, 'train_cfg.max_epochs=3']
    return subprocess.Popen(cmd + ['--resume'] * resume, cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait(proc: subprocess.Popen) -> int:
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode in (0, SIGKILLED), stderr[-3000:]
    return proc.returncode


def _train(work_dir, fault=None, resume=False) -> int:
    return _wait(_start(work_dir, fault, resume))


def _logged(work_dir) -> dict:
    """step -> (loss, loss_rec, lr) over all the runs' scalar logs, a later run's entry for a
    step replacing an earlier one's (a resumed run redoes the iterations after its checkpoint)."""
    steps = {}
    for log in sorted(work_dir.glob('*/vis_data/scalars.json')):  # run folders named by time
        for line in log.read_text().splitlines():
            entry = json.loads(line)
            if 'loss' in entry:
                steps[entry['step']] = (entry['loss'], entry['loss_rec'], entry['lr'])
    return steps


def _pointer(work_dir) -> str:
    return (work_dir / 'last_checkpoint').read_text().strip()


def test_killed_and_resumed_run_equals_an_uninterrupted_one(tmp_path):
    # 3 epochs of 4 iterations; a checkpoint after each epoch.
    whole, broken = tmp_path / 'uninterrupted', tmp_path / 'killed'
    uninterrupted = _start(whole)

    # 1. killed in the middle of epoch 2 (after iteration 6; epoch_1.pth was saved at 4)
    assert _train(broken, fault='iter:6') == SIGKILLED
    assert _pointer(broken) == str(broken / 'epoch_1.pth')
    # 2. resumed from epoch 1, killed inside the save of epoch_2.pth, before its rename
    assert _train(broken, fault='save:epoch_2.pth', resume=True) == SIGKILLED
    assert not (broken / 'epoch_2.pth').exists() and len(list(broken.glob('.epoch_2.pth.*'))) == 1
    assert _pointer(broken) == str(broken / 'epoch_1.pth')
    # 3. resumed from epoch 1 again, killed while mmengine rewrites the pointer after a complete
    #    epoch_2.pth: the pointer is left empty, so --resume finds the newest checkpoint itself
    assert _train(broken, fault='truncate:last_checkpoint', resume=True) == SIGKILLED
    assert _pointer(broken) == ''
    assert latest_checkpoint(str(broken), fallback=True) == str(broken / 'epoch_2.pth')
    # 4. resumed from epoch 2, runs to the end
    assert _train(broken, resume=True) == 0
    assert not list(broken.glob('.*.tmp'))  # the temporary of step 2 was cleaned up
    assert len(list(broken.glob('*/vis_data/scalars.json'))) == 4
    assert _wait(uninterrupted) == 0

    # The final checkpoints: weights, AdamW moments and lr scheduler states, bit for bit.
    a = CheckpointLoader.load_checkpoint(str(whole / 'epoch_3.pth'))
    b = CheckpointLoader.load_checkpoint(str(broken / 'epoch_3.pth'))
    assert a['meta']['iter'] == b['meta']['iter'] == 12
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for name, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][name]), name
    for i, state in a['optimizer']['state'].items():
        for key in ('exp_avg', 'exp_avg_sq', 'step'):
            assert torch.equal(state[key], b['optimizer']['state'][i][key]), (i, key)
    assert a['param_schedulers'] == b['param_schedulers']
    assert torch.equal(a['random_state']['torch'], b['random_state']['torch'])
    # The logged losses and lr of all 12 iterations, exactly (json keeps the full float).
    logged = _logged(whole)
    assert sorted(logged) == list(range(1, 13))
    assert _logged(broken) == logged
    # the run did learn something, so equal losses are not trivially equal
    assert logged[12][0] < logged[1][0] - 0.1


def test_resume_checkpoint_search_and_cleanup(tmp_path):
    assert latest_checkpoint(str(tmp_path / 'missing'), fallback=True) is None
    assert latest_checkpoint(str(tmp_path), fallback=True) is None
    for i, name in enumerate(['epoch_1.pth', 'epoch_10.pth', 'epoch_2.pth']):
        (tmp_path / name).write_bytes(b'x')
        os.utime(tmp_path / name, (1000 + i, 1000 + i))
    (tmp_path / '.epoch_3.pth.ab_cd123.tmp').write_bytes(b'half')
    (tmp_path / 'notes.tmp').write_bytes(b'mine')
    # no pointer: the newest file, not the highest number
    assert latest_checkpoint(str(tmp_path), fallback=True) == str(tmp_path / 'epoch_2.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    assert latest_checkpoint(str(tmp_path), fallback=True) == str(tmp_path / 'epoch_1.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_9.pth'))  # deleted since
    assert latest_checkpoint(str(tmp_path), fallback=True) == str(tmp_path / 'epoch_2.pth')
    assert remove_stale_temporaries(str(tmp_path)) == [str(tmp_path / '.epoch_3.pth.ab_cd123.tmp')]
    assert (tmp_path / 'notes.tmp').exists()


def test_full_disk_during_a_save_keeps_the_run_resumable(tmp_path, monkeypatch):
    fsync = os.fsync

    def disk_full_for_epoch_2(fd):
        if os.path.basename(os.readlink(f'/proc/self/fd/{fd}')).startswith('.epoch_2.pth.'):
            raise OSError(28, 'No space left on device')
        fsync(fd)

    def config():
        cfg = tiny_run_cfg(tmp_path, max_epochs=2)
        cfg.custom_hooks = []  # no pictures: faster
        return cfg

    monkeypatch.setattr(os, 'fsync', disk_full_for_epoch_2)
    runner = Runner.from_cfg(config())
    with pytest.raises(OSError, match=f'could not write {tmp_path}/epoch_2.pth: No space left on '
                       'device; its previous version, if any, is unchanged'):
        runner.train()
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['epoch_1.pth']
    assert not list(tmp_path.glob('.*.tmp'))
    assert latest_checkpoint(str(tmp_path), fallback=True) == str(tmp_path / 'epoch_1.pth')
    monkeypatch.undo()  # space freed

    cfg = config()
    cfg.resume = True
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    assert resumed.iter == 8
    assert CheckpointLoader.load_checkpoint(str(tmp_path / 'epoch_2.pth'))['meta']['iter'] == 8
