"""Resuming a run: what the resumed run must share with the run it continues, and the command
line that resumes it.

mmengine restores the old schedule, optimizer state and data position into whatever the new
config builds; :func:`check_resume_config` refuses a checkpoint written with another config
before anything is built, saying what differs and how to go on. :func:`resume_command` and
:func:`interrupted` are the lines ``tools/train.py`` ends a stopped run with.
"""
import shlex
from typing import Any, Iterator, List, Optional, Sequence, Tuple

from mmengine.config import Config

from mimlab.registry import ConfigError
from .checkpoint import load_local_checkpoint
from .workdir import latest_checkpoint

# The model keys whose values make another network (another set or shape of weights).
_ARCHITECTURE_KEYS = ('type', 'arch', 'embed_dim', 'depth', 'num_heads', 'patch_size',
                      'in_chans', 'num_classes', 'decoder_embed_dim', 'decoder_depth')

# What a resumed run must share with the run it continues: a change makes it another run. The
# weights' source (init_cfg) is left out: a resume takes the weights from the checkpoint.
RESUME_KEYS = ('model', 'optim_wrapper', 'param_scheduler', 'train_dataloader.batch_size',
               'randomness.seed')


class _Absent:
    """A key that one of two model configs lacks: shown as 'absent', equal to nothing else."""

    def __str__(self) -> str:
        return 'absent'


_ABSENT = _Absent()


def _architecture(model, prefix: str = '') -> dict:
    """{key path below ``model``: value} of a model config's parts (``'present'``) and their
    architecture keys (options such as ``norm_cfg``, which one process changes from SyncBN to
    BN, and ``init_cfg`` left out)."""
    found = {}
    if isinstance(model, dict):
        for key, value in model.items():
            if isinstance(value, dict) and not key.endswith('_cfg') and \
                    key != 'data_preprocessor':
                found[prefix + key] = 'present'
                found.update(_architecture(value, f'{prefix}{key}.'))
            elif key in _ARCHITECTURE_KEYS:
                found[prefix + key] = value
    return found


def _plain(value):
    """``value`` with config dicts as dicts and tuples as lists (a config read back from its
    text keeps tuples; one built by merging options may hold lists), ``init_cfg`` left out."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != 'init_cfg'}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _differences(old, new, path: str, absent: Any = None,
                 into_lists: bool = True) -> Iterator[Tuple[str, Any, Any]]:
    """(key path, old value, new value) of each leaf where two config values differ, depth
    first in key order. Dicts are walked key by key (a key only one of them has reads as
    ``absent`` on the other side; a missing key and None count as equal), lists of one length
    item by item (with ``into_lists``); any other pair is compared whole."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            if old.get(key) != new.get(key):
                yield from _differences(old.get(key, absent), new.get(key, absent),
                                        f'{path}.{key}', absent, into_lists)
    elif into_lists and isinstance(old, list) and isinstance(new, list) and \
            len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new)):
            yield from _differences(a, b, f'{path}.{i}', absent, into_lists)
    elif old != new:
        yield path, old, new


def stored_config(checkpoint: str) -> Optional[Config]:
    """The config of the run that wrote ``checkpoint`` (mmengine's ``meta['cfg']``), or None
    when it holds none or one this mmengine cannot read."""
    meta = load_local_checkpoint(checkpoint, 'cpu').get('meta') or {}
    try:
        return Config.fromstring(meta['cfg'], '.py')
    except Exception:
        return None


def trained_model_differences(cfg: Config, checkpoint: str) -> List[str]:
    """'key: value in the checkpoint -> value here' for each leaf of ``cfg.model`` that differs
    from the model config stored in ``checkpoint`` (mmengine's ``meta['cfg']``; ``init_cfg``
    left out); empty when they agree or the checkpoint holds no readable config. For a tool that
    evaluates the checkpoint with ``cfg``: a model option trained one way and scored another
    (e.g. DDeP's ``target``) loads without error and gives another number."""
    old = stored_config(checkpoint)
    if old is None:
        return []

    def shown(value) -> str:
        return 'absent (its default)' if value is _ABSENT else repr(value)

    return [f'{path}: {shown(a)} in the checkpoint -> {shown(b)} here' for path, a, b in
            _differences(_plain(old.get('model')), _plain(cfg.get('model')), 'model',
                         absent=_ABSENT)]


def check_resume_config(cfg: Config) -> None:
    """Refuse to resume a checkpoint written with another config (its :data:`RESUME_KEYS`, the
    length of the run), saying what differs and how to go on. mmengine restores the old
    schedule, optimizer state and data position into whatever the new config builds, so such a
    run would be neither the old run continued nor a new one."""
    if not cfg.get('resume') or not cfg.get('load_from'):
        return
    meta = load_local_checkpoint(cfg.load_from, 'cpu').get('meta') or {}
    try:
        old = Config.fromstring(meta['cfg'], '.py')
    except Exception:  # no config text in the checkpoint, or one this mmengine cannot read
        return
    differ = [f'{key}: {a} in the checkpoint, {b} here' for key, a, b in _differences(
        _architecture(old.get('model')), _architecture(cfg.get('model')), 'model',
        absent=_ABSENT, into_lists=False)]
    if differ:
        name = meta.get('experiment_name')
        trained = f' (trained as {name})' if name else ''
        raise ConfigError(
            f'--resume: {cfg.load_from}{trained} is a checkpoint of another model than this '
            f'config\'s ({"; ".join(differ[:3])}{" ..." if len(differ) > 3 else ""}): resume '
            'with the config it was trained with, or start a new run')
    new_train, old_train = cfg.get('train_cfg') or {}, old.get('train_cfg') or {}
    for unit in ('max_epochs', 'max_iters'):
        if old_train.get(unit) is not None and new_train.get(unit) is not None and \
                old_train[unit] != new_train[unit]:
            raise ConfigError(
                f'--resume: {cfg.load_from} was trained with train_cfg.{unit}={old_train[unit]}, '
                f'this run asks for {new_train[unit]}; a resumed run keeps its learning-rate '
                f'schedule, which was built for {old_train[unit]}. To train longer on its weights '
                'with a schedule for the new length, start a new run from them: --cfg-options '
                f'load_from={cfg.load_from} train_cfg.{unit}={new_train[unit]} (without --resume), '
                f'or resume with train_cfg.{unit}={old_train[unit]}')
    differ = []
    for key in RESUME_KEYS:
        parent, _, leaf = key.rpartition('.')
        old_value = (old.get(parent) or {}).get(leaf) if parent else old.get(key)
        new_value = (cfg.get(parent) or {}).get(leaf) if parent else cfg.get(key)
        differ += [f'{path}: {a!r} -> {b!r}'
                   for path, a, b in _differences(_plain(old_value), _plain(new_value), key)]
    if differ:
        shown = '; '.join(differ[:4]) + (f'; and {len(differ) - 4} more' if len(differ) > 4
                                          else '')
        raise ConfigError(
            f'--resume: {cfg.load_from} was trained with another config ({shown}). Resume with '
            'the config and options it was started with (its text is in the checkpoint, '
            "meta['cfg'], and in the work dir), or start a new run from its weights with "
            f'--cfg-options load_from={cfg.load_from} (without --resume)')


def resume_command(argv: Sequence[str], tool: str = 'tools/train.py') -> str:
    """The ``tools/train.py`` command line of ``argv`` (its arguments) that resumes the run:
    ``--resume`` in place of any ``--resume [CKPT]``; under a launcher, the hint to rerun the
    launcher the same way with ``--resume``."""
    kept, launcher, i = [], 'none', 0
    while i < len(argv):
        name, has_value, value = argv[i].partition('=')
        i += 1
        if name not in ('--resume', '--launcher', '--local_rank', '--local-rank'):
            kept.append(argv[i - 1])
            continue
        if not has_value and i < len(argv) and not argv[i].startswith('-'):
            value, i = argv[i], i + 1
        if name == '--launcher':
            launcher = value
    command = ' '.join(shlex.quote(a) for a in ['python', tool, *kept, '--resume'])
    if launcher != 'none':
        command += (f' (launched by {launcher}: rerun the launcher with the same arguments and '
                    '--resume, e.g. tools/dist_train.sh CONFIG GPUS ... --resume)')
    return command


def interrupted(work_dir: Optional[str], argv: Sequence[str],
                tool: str = 'tools/train.py') -> str:
    """The one line a run stopped by Ctrl-C ends with: where it stands, and how to go on."""
    checkpoint = latest_checkpoint(work_dir) if work_dir else None
    where = (f'the last checkpoint is {checkpoint}' if checkpoint else
             'no checkpoint was saved yet (the command starts afresh)')
    return f'interrupted; {where}; continue with: {resume_command(argv, tool)}'

