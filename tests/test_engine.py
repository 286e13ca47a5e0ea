import os
import pickle

import numpy as np
import pytest
import torch
from conftest import WritesAFile
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import CheckpointLoader

from mimlab.engine import (AtomicLocalBackend, UnsafeCheckpointError, allow_unsafe_load,
                          atomic_write, write_json)


def test_mmengine_style_checkpoint_loads_with_weights_only(tmp_path):
    buf = HistoryBuffer()
    buf.update(1.5)
    ckpt = dict(state_dict=dict(w=torch.ones(2)),
                message_hub=dict(log_scalars=dict(loss=buf), runtime_info=dict(
                    epoch=3, seed=np.int64(7), arr=np.arange(3, dtype=np.float32))))
    path = tmp_path / 'epoch_3.pth'
    torch.save(ckpt, path)
    loaded = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert loaded['message_hub']['log_scalars']['loss'].current() == 1.5
    assert loaded['message_hub']['runtime_info']['seed'] == 7


def test_checkpoint_that_would_run_code_is_refused(tmp_path):
    victim = tmp_path / 'written_by_pickle.txt'
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, payload=WritesAFile(str(victim))), path)
    with pytest.raises(UnsafeCheckpointError) as err:
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    message = str(err.value)
    # names the file, the refused global (builtins.open is io.open) and the opt-in
    assert str(path) in message and 'unpickle io.open,' in message and '--unsafe-load' in message
    assert not victim.exists()
    # the payload is real: plain unpickling does write the file
    pickle.loads(pickle.dumps(WritesAFile(str(victim))))
    assert victim.exists()


def test_unsafe_load_is_an_explicit_opt_in(tmp_path):
    victim = tmp_path / 'written_by_pickle.txt'
    path = tmp_path / 'trusted_but_unsafe.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(2)), payload=WritesAFile(str(victim))), path)
    allow_unsafe_load()
    try:
        loaded = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    finally:
        allow_unsafe_load(False)
    assert victim.exists() and torch.equal(loaded['state_dict']['w'], torch.ones(2))
    victim.unlink()
    with pytest.raises(UnsafeCheckpointError):  # the opt-in does not outlive its switch
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert not victim.exists()


def test_atomic_write_replaces_whole_file_or_nothing(tmp_path, monkeypatch):
    path = tmp_path / 'ckpt.pth'
    atomic_write(path, b'old')

    def fail_fsync(fd):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(os, 'fsync', fail_fsync)
    with pytest.raises(OSError, match='No space left'):
        atomic_write(path, b'new and longer')
    monkeypatch.undo()
    assert path.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['ckpt.pth']  # no temporary left behind
    AtomicLocalBackend().put_text('epoch_2.pth', str(tmp_path / 'last_checkpoint'))
    assert (tmp_path / 'last_checkpoint').read_text() == 'epoch_2.pth'


def test_write_json_is_atomic_and_creates_its_folder(tmp_path, monkeypatch):
    path = tmp_path / 'cells' / 'a' / 'result.json'
    write_json(path, dict(top1=70.5, rows=[1, 2]))
    assert path.read_text() == '{\n "top1": 70.5,\n "rows": [\n  1,\n  2\n ]\n}'  # indent 1
    write_json(path, dict(root=tmp_path), indent=None, default=str)
    assert path.read_text() == f'{{"root": "{tmp_path}"}}'

    def fail_fsync(fd):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(os, 'fsync', fail_fsync)
    with pytest.raises(OSError, match='No space left'):
        write_json(path, dict(new=1))
    assert path.read_text() == f'{{"root": "{tmp_path}"}}'  # the old file, whole
    assert os.listdir(path.parent) == ['result.json']


class _GetattrOtherThanStatistics:
    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


def test_getattr_is_allowed_only_for_history_buffer_statistics(tmp_path):
    path = tmp_path / 'sneaky.pth'
    torch.save(dict(x=_GetattrOtherThanStatistics()), path)
    with pytest.raises(UnsafeCheckpointError, match=r"unpickle getattr\(.*'__init__'\)"):
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
