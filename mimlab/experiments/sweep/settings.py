"""What a sweep is: its grid and budget (:class:`Sweep`), how each cell is evaluated
(:class:`EvalSettings`), and one cell of it (:class:`Cell`)."""
import dataclasses
import hashlib
import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence, Tuple

from mmengine.config import Config

from mimlab.engine.errors import ConfigError
from .grid import Grid

EVALS = ('linear_probe', 'knn', 'finetune', 'miou')
DEFAULT_EVAL_METRIC = dict(finetune='top1', miou='mIoU')
# The settings that make each evaluation's result: a change gives a new result file. (The names
# are those of the result files' 'settings': earlier sweeps' files keep their names.)
_PROBE = ('pool', 'probe_train_images', 'probe_test_images', 'seed')
RESULT_SETTINGS = dict(
    linear_probe=_PROBE + ('probe_epochs', 'probe_lr'),
    knn=_PROBE + ('knn_k', 'knn_temperature'),
    finetune=('eval_config', 'eval_cfg_options', 'eval_metric', 'seed'),
    miou=('eval_config', 'eval_cfg_options', 'eval_metric', 'seed'),
)


@dataclass(frozen=True)
class EvalSettings:
    """How every cell is evaluated.

    Args:
        seed: ``randomness.seed`` of every pretraining and evaluation run, and the probe's seed.
        pool: features for linear_probe and knn: 'cls' token, 'avg' of the patches.
        probe_train_split / probe_test_split: the pretraining config's splits they read.
        probe_train_images / probe_test_images: their first N images (None: all).
        probe_epochs / probe_lr: :func:`mimlab.evaluation.train_linear_probe`.
        knn_k / knn_temperature: :func:`mimlab.evaluation.knn_accuracy`.
        eval_config: finetune / miou: the config trained with the pretrained encoder.
        eval_cfg_options: overrides of ``eval_config``.
        eval_metric: the logged metric reported (default top1 / mIoU).
        checkpoint_key: the ``eval_config`` key that takes the pretraining checkpoint's path
            (e.g. ``model.decode_head.decoder_checkpoint`` for DDeP); default: the backbone is
            initialised from the checkpoint's ``backbone.`` keys.
    """
    seed: int = 0
    pool: Tuple[str, ...] = ('cls',)
    probe_train_split: str = 'train'
    probe_test_split: str = 'test'
    probe_train_images: Optional[int] = None
    probe_test_images: Optional[int] = None
    probe_epochs: int = 30
    probe_lr: float = 0.1
    knn_k: int = 20
    knn_temperature: float = 0.07
    eval_config: Optional[str] = None
    eval_cfg_options: Optional[Dict[str, Any]] = None
    eval_metric: Optional[str] = None
    checkpoint_key: Optional[str] = None

    def for_result(self, kind: str) -> dict:
        """The settings that make a ``kind`` result (written beside it, hashed into its name)."""
        values = dataclasses.asdict(self)
        settings = {key: values[key] for key in RESULT_SETTINGS[kind]}
        if kind in ('finetune', 'miou'):
            settings['eval_metric'] = self.eval_metric or DEFAULT_EVAL_METRIC[kind]
            settings['eval_config'] = osp.abspath(self.eval_config)
            if self.checkpoint_key:  # (absent by default, so earlier result files keep names)
                settings['checkpoint_key'] = self.checkpoint_key
        return settings


@dataclass
class Sweep:
    """A grid of config overrides, each pretrained with the same budget and seed and evaluated.

    Args:
        config: the pretraining config file.
        grid: (key, values) pairs; the cells are their product.
        evals: from :data:`EVALS`.
        work_dir: where the cells, the table and the figure go.
        name: file name of the table and the figure.
        cfg_options: overrides common to every cell (the budget).
        settings: how each cell is evaluated (and the seed).
    """
    config: str
    grid: Grid
    evals: Sequence[str]
    work_dir: str
    name: str = 'sweep'
    cfg_options: Optional[Dict[str, Any]] = None
    settings: EvalSettings = field(default_factory=EvalSettings)

    def __post_init__(self) -> None:
        unknown = [kind for kind in self.evals if kind not in EVALS]
        if unknown:
            raise ConfigError(f'--eval {unknown}: choose from {EVALS}')
        if {'finetune', 'miou'} & set(self.evals) and not self.settings.eval_config:
            raise ConfigError('--eval finetune / miou needs --eval-config')
        for flag, path in (('config file', self.config),
                           ('--eval-config', self.settings.eval_config)):
            if path is not None and not osp.isfile(path):
                raise ConfigError(f'{flag} {path} does not exist')


@dataclass
class Cell:
    """One distinct config of the sweep: its grid overrides, its full config, and its folder
    ``<work_dir>/cells/<name>`` (``name``: the changed overrides and a hash of the config)."""
    overrides: Dict[str, Any]
    cfg: Config
    name: str
    dir: str


def result_file(cell_dir: str, kind: str, settings: dict) -> str:
    """Where a cell's ``kind`` result with these settings is kept."""
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True, default=repr).encode())
    return osp.join(cell_dir, f'eval-{kind}-{digest.hexdigest()[:8]}.json')
