"""Checkpoint safety: loads never run code from a file, saves are atomic.

mmengine 0.10.7 loads checkpoints with a bare ``torch.load``; since torch 2.6 that means
``weights_only=True``, which refuses mmengine's own checkpoints (they carry its ``HistoryBuffer``
and numpy arrays) so ``--resume`` fails. Instead of ``weights_only=False`` (which lets a
downloaded file run code), :func:`load_local_checkpoint` allows exactly those classes
(:data:`SAFE_GLOBALS`, for its own loads only) and turns a refusal into an error that names the
class and the explicit opt-in, ``--unsafe-load`` (:func:`allow_unsafe_load`).

Importing mimlab changes nothing in mmengine. :func:`install_checkpoint_loader` makes
:func:`load_local_checkpoint` mmengine's loader of local files, in the places that load:
``SafeCheckpointLoaderHook`` (in ``configs/_base_/default_runtime.py`` and the mmseg / mmdet
configs) installs it when a runner is built, before weight init and resume; runner-less loads
(``mimlab.apis.init_model``, the export and conversion functions) install it themselves.
"""
import json
import logging
import os
import os.path as osp
import pickle
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, List, Optional, Union

import numpy as np
import torch
from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import print_log
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


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint asks to unpickle something outside the allow-list."""


_unsafe_load = False


def allow_unsafe_load(enabled: bool = True) -> None:
    """The explicit opt-in behind ``--unsafe-load``: load local checkpoints with
    ``weights_only=False`` in this process. Only for files from a source you trust."""
    global _unsafe_load
    _unsafe_load = enabled


def _refused_name(err: Exception) -> str:
    """The global that torch's (or the allow-list's) unpickler refused, from its message."""
    message = str(err)
    match = re.search(r'Unsupported global: GLOBAL (\S+)', message) or re.search(
        r'refused (getattr\(.*?\))', message)
    return match.group(1) if match else message.strip().splitlines()[-1]


def load_local_checkpoint(filename: str, map_location=None) -> dict:
    """Load a local checkpoint with ``weights_only=True`` and :data:`SAFE_GLOBALS`, the classes
    mmengine's checkpoints carry (or, after :func:`allow_unsafe_load`, with
    ``weights_only=False``)."""
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    if _unsafe_load:
        print_log(f'loading {filename} with weights_only=False (--unsafe-load): unpickling may '
                  'run code from the file', logger='current', level=logging.WARNING)
        return torch.load(filename, map_location=map_location, weights_only=False)
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f'refused to load {filename}: it asks to unpickle {_refused_name(err)}, which is '
            "not on mimlab's allow-list of safe classes, and unpickling it could run code. Only "
            'if you trust the file, rerun with --unsafe-load (tools/train.py, tools/test.py) to '
            'load it with weights_only=False.'
        ) from err


def install_checkpoint_loader() -> None:
    """Make every mmengine load of a local file in this process (resume, ``load_from``,
    ``Pretrained`` init in mimlab, mmseg or mmdet models) go through
    :func:`load_local_checkpoint`. Idempotent."""
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_local_checkpoint)


def _umask() -> int:
    """The process's umask (os.umask can only be read by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Union[str, Path], data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one: a
    temporary file in the same folder, flushed and fsynced, then renamed over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        # mkstemp creates the file 0600; give it the mode open() would (0666 minus the umask),
        # so that a group sharing a work dir can read the checkpoints
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError):  # e.g. a full disk: say what was kept
            raise OSError(err.errno, f'could not write {path}: {err.strerror or err}; its '
                          'previous version, if any, is unchanged') from err
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_json(path: Union[str, Path], data: Any, indent: Optional[int] = 1,
               default: Optional[Callable[[Any], Any]] = None) -> None:
    """Write ``data`` as JSON to ``path`` through :func:`atomic_write` (its folder is created):
    a reader, e.g. a sweep polling its cells, sees the old file or the whole new one.
    ``default`` converts what JSON cannot hold, as in :func:`json.dumps`."""
    atomic_write(path, json.dumps(data, indent=indent, default=default).encode())


# atomic_write's temporaries: '.{name}.{8 random characters}.tmp'
_TEMPORARY_NAME = re.compile(r'\..+\.[a-z0-9_]{8}\.tmp')


def remove_stale_temporaries(folder: str) -> List[str]:
    """Delete the temporaries of :func:`atomic_write` that a killed run left in ``folder`` (each
    can be as large as a checkpoint); returns their paths. Call it only while nothing writes
    there, e.g. before a resumed run starts."""
    removed = []
    for entry in os.scandir(folder) if osp.isdir(folder) else ():
        if entry.is_file() and _TEMPORARY_NAME.fullmatch(entry.name):
            try:
                os.unlink(entry.path)
            except FileNotFoundError:  # another process of the same launch was first
                continue
            removed.append(entry.path)
    return removed


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic writes. Used by the checkpoint hook
    (``backend_args=dict(backend='atomic_local')``), so a checkpoint, and the ``last_checkpoint``
    pointer written after it, are never seen half-written."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write(filepath, obj)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        atomic_write(filepath, obj.encode(encoding))
