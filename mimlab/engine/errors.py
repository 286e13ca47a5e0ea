"""Errors a user fixes in a config, a command line or the data, turned into one line."""
import os
from contextlib import contextmanager
from typing import Iterator, List, Optional, Tuple

from mimlab.datasets.transforms import BadImageError
from mimlab.models.utils.state_dict import CheckpointMismatchError
from mimlab.registry import BuildError, ConfigError, UnknownArgumentError, UnknownTypeError
from .checkpoint import UnsafeCheckpointError

__all__ = ['ConfigError', 'explain', 'find_config_dicts', 'one_line_errors']

# Set (MIMLAB_DEBUG=1) to see the full traceback of an error that tools report in one line.
DEBUG_VARIABLE = 'MIMLAB_DEBUG'


def find_config_dicts(cfg, type_name: Optional[str] = None, key: Optional[str] = None
                      ) -> List[Tuple[str, dict]]:
    """(key path, dict) of the dicts in ``cfg`` with ``type=type_name`` (the last part of a
    scoped name counts: 'mimlab.MaskedViT') and/or holding ``key``, outermost first."""
    found = []

    def visit(node, path: str) -> None:
        if isinstance(node, dict):
            kind = node.get('type')
            kind = kind.split('.')[-1] if isinstance(kind, str) else kind
            if (type_name is None or kind == type_name) and (key is None or key in node) \
                    and (type_name is not None or 'type' in node):
                found.append((path, node))
            for k, value in node.items():
                visit(value, f'{path}.{k}' if path else str(k))
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                visit(value, f'{path}.{i}')

    visit(cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg, '')
    return found


def _where(cfg, type_name: Optional[str], key: Optional[str] = None) -> Optional[str]:
    if cfg is None:
        return None
    found = find_config_dicts(cfg, type_name, key)
    return found[0][0] if found else None


def explain(err: BaseException, cfg=None) -> Optional[str]:
    """The one-line message for an error a user fixes in the config or the inputs (naming the
    config key when ``cfg``, the config the run was built from, is given), else None."""
    if isinstance(err, (ConfigError, UnsafeCheckpointError, FloatingPointError,
                        FileNotFoundError, CheckpointMismatchError)):
        return str(err)
    if isinstance(err, BadImageError):
        return (f'{err} (or set skip_bad_images=True in the training dataset to skip and log '
                'such files)')
    if isinstance(err, UnknownArgumentError):
        path = err.path or _where(cfg, err.type_name.split('.')[-1], err.argument)
        return f'{path}.{err.argument}: {err}' if path else str(err)
    if isinstance(err, BuildError):
        path = _where(cfg, err.type_name.split('.')[-1])
        return f'{path}: {err}' if path else str(err)
    if isinstance(err, UnknownTypeError):
        return str(err)
    return None


@contextmanager
def one_line_errors(cfg=None) -> Iterator[None]:
    """For tools: exit with a one-line message (no traceback) on an error the user fixes: a
    config error, a constructor refusing its config values or an unknown argument (naming the
    key path in ``cfg``), an unknown ``type``, a refused or mismatched checkpoint, a non-finite
    loss, a bad image, a missing file or folder. Other errors, and every error when the
    environment sets MIMLAB_DEBUG=1, keep their traceback."""
    try:
        yield
    except Exception as err:
        message = None if os.environ.get(DEBUG_VARIABLE) == '1' else explain(err, cfg)
        if message is None:
            raise
        raise SystemExit(message) from err
