"""Errors a user fixes in a config, a command line or the data, turned into one line."""
from contextlib import contextmanager
from typing import Iterator

from mimlab.datasets.transforms import BadImageError
from mimlab.registry import UnknownTypeError
from .checkpoint import UnsafeCheckpointError


class ConfigError(ValueError):
    """A config or a run option that cannot work together; the message names the key."""


@contextmanager
def one_line_errors() -> Iterator[None]:
    """For tools: exit with the message alone (no traceback) on a config error, an unknown
    ``type``, a refused checkpoint, a non-finite loss, a bad image, or a missing file or folder
    (the message names it); other errors keep their traceback."""
    try:
        yield
    except (ConfigError, UnknownTypeError, UnsafeCheckpointError, FloatingPointError,
            FileNotFoundError) as err:
        raise SystemExit(str(err)) from err
    except BadImageError as err:
        raise SystemExit(f'{err} (or set skip_bad_images=True in the training dataset to skip '
                         'and log such files)') from err
