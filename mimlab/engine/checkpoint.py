"""Checkpoint safety: loads never run code from a file, saves are atomic.

mmengine 0.10.7 loads checkpoints with a bare ``torch.load``; since torch 2.6 that means
``weights_only=True``, which refuses mmengine's own checkpoints (they carry its ``HistoryBuffer``
and numpy arrays) so ``--resume`` fails. Instead of ``weights_only=False`` (which lets a
downloaded file run code), :func:`register_safe_globals` allow-lists exactly those classes, and
:func:`load_local_checkpoint` (installed as mmengine's loader for local paths) turns a refusal
into an error that names the class.
"""
import os
import pickle
import tempfile
from pathlib import Path
from typing import Union

import numpy as np
import torch
from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import CheckpointLoader


def _numpy_globals() -> list:
    multiarray = getattr(np, '_core', np.core).multiarray
    dtype_classes = [getattr(np.dtypes, name) for name in dir(np.dtypes)
                     if name.endswith('DType') and isinstance(getattr(np.dtypes, name), type)]
    return [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype, *dtype_classes]


def _history_buffer_getattr(obj, name: str):
    """Stands in for ``builtins.getattr`` while unpickling: a pickled ``HistoryBuffer`` keeps its
    statistics methods as ``getattr(HistoryBuffer, 'mean')`` and the like; nothing else may be
    looked up (a general getattr would hand a checkpoint any attribute of an allowed class)."""
    if obj is HistoryBuffer and name in ('min', 'max', 'mean', 'current'):
        return getattr(obj, name)
    raise pickle.UnpicklingError(f'refused getattr({obj!r}, {name!r}) in a checkpoint')


SAFE_GLOBALS = [HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr'), *_numpy_globals()]


def register_safe_globals() -> None:
    """Allow in ``torch.load(weights_only=True)`` the classes mmengine's checkpoints carry."""
    torch.serialization.add_safe_globals(SAFE_GLOBALS)


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint asks to unpickle something outside the allow-list."""


def load_local_checkpoint(filename: str, map_location=None) -> dict:
    """Load a local checkpoint with ``weights_only=True`` and the allow-list."""
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f'refused to load {filename}: it holds objects outside the allow-list of safe '
            f'classes, and unpickling them could run code. torch said: {err}. Only if you trust '
            'the file, re-save it as a plain state dict with torch.load(weights_only=False) in '
            'a separate process, or add the class with torch.serialization.add_safe_globals.'
        ) from err


def install_checkpoint_loader() -> None:
    """Make every mmengine load of a local file (resume, ``load_from``, ``Pretrained`` init in
    mimlab, mmseg or mmdet configs) go through :func:`load_local_checkpoint`."""
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_local_checkpoint)


def atomic_write(path: Union[str, Path], data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one: a
    temporary file in the same folder, flushed and fsynced, then renamed over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic writes. Used by the checkpoint hook
    (``backend_args=dict(backend='atomic_local')``), so a checkpoint, and the ``last_checkpoint``
    pointer written after it, are never seen half-written."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write(filepath, obj)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        atomic_write(filepath, obj.encode(encoding))
