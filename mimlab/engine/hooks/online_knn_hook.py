"""Representation quality while pretraining: weighted kNN (and optionally a linear probe) on a
labelled held-out set, measured with the live encoder."""
import copy
import os.path as osp
import time
from typing import Dict, Optional, Tuple

import torch
from mmengine.dist import all_gather_object, get_dist_info, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch.utils.data import Subset

from mimlab.datasets.builder import build_split_dataset
from mimlab.registry import DATASETS, HOOKS, BuildError, ConfigError
from mimlab.visualization import save_picture
from mimlab.visualization.feature_map import draw_feature_maps, embed_2d, resolve_method

Features = Tuple[torch.Tensor, torch.Tensor]


def extract_features_sharded(model: torch.nn.Module, dataset, batch_size: int = 512,
                             pool: str = 'cls') -> Features:
    """:func:`~mimlab.evaluation.extract_features` of the whole ``dataset``, each process of a
    distributed run encoding every ``world_size``-th image (the list padded to a multiple of the
    world size, so every process runs the same number of batches); the shares are gathered
    and put back in dataset order on every process. One process: ``extract_features`` itself.
    The features and labels are returned on the CPU, where the kNN and the probe run."""
    # imported here: mimlab.evaluation loads the model zoo, which importing the engine must not
    from mimlab.evaluation import extract_features
    rank, world_size = get_dist_info()
    if world_size == 1:
        feats, labels = extract_features(model, dataset, batch_size=batch_size, pool=pool)
        return feats.cpu(), labels.cpu()
    count = len(dataset)
    padded = list(range(count)) + list(range(count))[:(-count) % world_size]
    share = extract_features(model, Subset(dataset, padded[rank::world_size]),
                             batch_size=batch_size, pool=pool)
    shares = all_gather_object(tuple(t.cpu() for t in share))
    feats = torch.empty(len(padded), shares[0][0].shape[1], dtype=shares[0][0].dtype)
    labels = torch.empty(len(padded), dtype=shares[0][1].dtype)
    for r, (f, y) in enumerate(shares):
        feats[r::world_size], labels[r::world_size] = f, y
    return feats[:count], labels[:count]


def _names(classes: Tuple[str, ...]) -> str:
    return str(list(classes[:5]))[:-1] + (', ...]' if len(classes) > 5 else ']')


@HOOKS.register_module()
class OnlineKNNHook(Hook):
    """Every ``interval`` iterations and at the end of each epoch, encode a labelled bank and
    held-out queries with the live encoder (eval mode, whole images, no mask, no gradient; the
    model's train mode is restored after) and log the weighted kNN top-1 accuracy of the
    queries, with exactly the features and code of ``extract_features.py`` + ``knn.py``
    (cosine similarity, ``k`` nearest, weights exp(similarity / ``temperature``)).

    Logged as ``online/knn_top1`` (and ``online/probe_top1`` with ``probe_epochs``) to the
    visualizer's backends (``scalars.json``, TensorBoard) at the iteration it was measured, in
    the log, and in the message hub (the run summary reads it). Under DDP every process encodes
    its share of the images and the features are gathered.

    The labelled set: by default the training dataset's config (which follows ``--data-root``),
    read through the config's ``test_pipeline``; ``dataset`` (a dataset config) or ``data_root``
    (a folder with ``train/`` and ``val/`` class folders, or Fashion-MNIST's idx files) points it
    elsewhere, e.g. at labelled data when the pretraining data has none. The bank is the first
    ``num_bank`` images of ``bank_split``, the queries the first ``num_queries`` of
    ``query_split``: ``extract_features.py CONFIG CKPT --max-images N`` with
    N = ``num_bank`` = ``num_queries`` and ``knn.py`` give the same number on a checkpoint.

    Args:
        dataset: config of the labelled dataset (its ``split`` is set per role); None: the
            training dataset's config.
        data_root: the labelled set's folder (replaces the dataset's ``data_root``).
        bank_split: split of the kNN bank (and the probe's training set).
        query_split: split of the queries; its class names must be the bank's.
        num_bank: images in the bank (the first N of ``bank_split``).
        num_queries: images classified (the first N of ``query_split``).
        interval: iterations between measurements (0: only at the end of each epoch).
        k: neighbours that vote; temperature: the vote weights' temperature.
        pool: 'cls' (the cls token) or 'avg' (mean of the patch tokens).
        probe_epochs: > 0 also trains a linear probe (BatchNorm without affine + linear, SGD)
            on the cached bank features for this many epochs and logs its query accuracy.
        batch_size: images per encoder forward.
        feature_map: at the end of training, also draw the last queries' features in 2-D
            (:func:`~mimlab.visualization.feature_map.embed_2d`, coloured by class) to
            ``{work_dir}/vis/feature_map.png`` and the visualizer's backends (a few CPU-seconds
            for t-SNE on 1,000 points; UMAP compiles itself first).
        feature_map_method: 'tsne' (seconds), 'umap' or 'auto' (UMAP when umap-learn is
            installed).
    """
    priority = 'LOW'

    def __init__(self, dataset: Optional[dict] = None, data_root: Optional[str] = None,
                 bank_split: str = 'train', query_split: str = 'test', num_bank: int = 2000,
                 num_queries: int = 1000, interval: int = 0, k: int = 20,
                 temperature: float = 0.07, pool: str = 'cls', probe_epochs: int = 0,
                 batch_size: int = 512, feature_map: bool = False,
                 feature_map_method: str = 'tsne') -> None:
        if pool not in ('cls', 'avg'):
            raise ConfigError(f"OnlineKNNHook.pool must be 'cls' or 'avg', got {pool!r}")
        if k < 1 or temperature <= 0 or num_bank < 1 or num_queries < 1:
            raise ConfigError('OnlineKNNHook: k, num_bank and num_queries must be >= 1 and '
                              f'temperature > 0, got k={k}, num_bank={num_bank}, '
                              f'num_queries={num_queries}, temperature={temperature}')
        self.dataset_cfg = dataset
        self.data_root = data_root
        self.splits = dict(bank=bank_split, query=query_split)
        self.sizes = dict(bank=num_bank, query=num_queries)
        self.interval = interval
        self.k = k
        self.temperature = temperature
        self.pool = pool
        self.probe_epochs = probe_epochs
        self.batch_size = batch_size
        self.feature_map = feature_map
        self.feature_map_method = resolve_method(feature_map_method) if feature_map else None
        self._queries: Optional[Features] = None
        self.datasets: Dict[str, object] = {}
        self.classes: Tuple[str, ...] = ()
        self.cpu_seconds = 0.0  # this hook's process CPU time, all measurements together
        self._last_step = -1
        self.enabled = True

    def _build(self, runner, role: str):
        split, count = self.splits[role], self.sizes[role]
        if self.dataset_cfg is None and self.data_root is None:
            return build_split_dataset(runner.cfg, split, indices=count)
        cfg = copy.deepcopy(self.dataset_cfg if self.dataset_cfg is not None
                            else runner.cfg.train_dataloader.dataset)
        if self.data_root is not None:
            cfg['data_root'] = self.data_root
        cfg.update(split=split, indices=count)
        if 'pipeline' not in cfg or self.dataset_cfg is None:
            cfg['pipeline'] = list(runner.cfg.test_pipeline)
        return DATASETS.build(cfg)

    def _source(self, runner) -> str:
        """The config key that names the labelled set, for errors."""
        if self.data_root is not None:
            return f'OnlineKNNHook.data_root={self.data_root!r}'
        if self.dataset_cfg is not None:
            return 'OnlineKNNHook.dataset'
        root = runner.cfg.train_dataloader.dataset.get('data_root')
        return f'train_dataloader.dataset (data_root={root!r})'

    def before_train(self, runner) -> None:
        """Build the bank and the queries (one-line errors naming the key that is wrong). With
        neither ``dataset`` nor ``data_root`` given, training data without labels (or without
        the query split) turns the hook off with a warning: a config that has it on still
        pretrains on a plain folder of images."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if 'backbone' not in dict(model.named_children()):
            raise ConfigError(f'custom_hooks: OnlineKNNHook measures an encoder (model.backbone), '
                              f'and {type(model).__name__} has none: remove the hook')
        if self.data_root is not None and not osp.isdir(self.data_root):
            raise ConfigError(f'custom_hooks: OnlineKNNHook.data_root={self.data_root!r} is not '
                              'a folder')
        try:
            self._build_labelled_set(runner)
        except ConfigError as err:
            if self.dataset_cfg is not None or self.data_root is not None:
                raise
            self.enabled = False
            runner.logger.warning(f'{err}; the online kNN is off for this run')

    def _build_labelled_set(self, runner) -> None:
        for role in ('bank', 'query'):
            try:
                self.datasets[role] = self._build(runner, role)
            except (FileNotFoundError, BuildError) as err:
                raise ConfigError(f'custom_hooks: OnlineKNNHook.{role}_split='
                                  f'{self.splits[role]!r} of {self._source(runner)}: '
                                  f'{err}') from err
        bank_classes = tuple(self.datasets['bank'].metainfo.get('classes') or ())
        query_classes = tuple(self.datasets['query'].metainfo.get('classes') or ())
        if not bank_classes:
            raise ConfigError(f'custom_hooks: OnlineKNNHook needs labels, and '
                              f'{self._source(runner)} has no classes in its '
                              f'{self.splits["bank"]!r} split (a plain folder of images): point '
                              'OnlineKNNHook.data_root (or .dataset) at a labelled set, one '
                              'sub-folder per class')
        if query_classes != bank_classes:
            raise ConfigError(f'custom_hooks: OnlineKNNHook.query_split={self.splits["query"]!r} '
                              f'of {self._source(runner)} has the classes {_names(query_classes)}, '
                              f'not those of bank_split={self.splits["bank"]!r} '
                              f'({_names(bank_classes)})')
        self.classes = bank_classes

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.interval > 0 and self.every_n_train_iters(runner, self.interval):
            self.evaluate(runner, runner.iter + 1)

    def after_train_epoch(self, runner) -> None:
        self.evaluate(runner, runner.iter)

    def after_train(self, runner) -> None:
        if not self.feature_map or self._queries is None or not is_main_process():
            return
        start_cpu = time.process_time()
        points = embed_2d(self._queries[0], self.feature_map_method)
        picture = draw_feature_maps(
            [(f'after iteration {self._last_step}', points, self._queries[1].numpy())],
            self.classes, f'{len(points)} {self.splits["query"]} images, '
            f'{self.feature_map_method}')
        path = osp.join(runner.work_dir, 'vis', 'feature_map.png')
        save_picture(picture, path)
        runner.visualizer.add_image('online/feature_map', picture, step=self._last_step)
        self.cpu_seconds += time.process_time() - start_cpu
        runner.logger.info(f'feature map of the queries: {path} ({self.cpu_seconds:.1f} CPU-s '
                           'in all for this hook)')

    def measure(self, model: torch.nn.Module) -> Dict[str, float]:
        """kNN (and probe) top-1 accuracy (%) of ``model``'s encoder on the bank and queries;
        the model's train mode and the global random state are kept."""
        from mimlab.evaluation import knn_accuracy, train_linear_probe  # see above
        # the data loaders draw a seed from the global generator and the probe seeds it: keep
        # its state, so that training draws the masks and augmentations it would without the hook
        with torch.random.fork_rng(devices=[]):
            was_training = model.training
            try:
                bank, queries = (extract_features_sharded(model, self.datasets[role],
                                                          self.batch_size, self.pool)
                                 for role in ('bank', 'query'))
            finally:
                model.train(was_training)
            self._queries = queries
            result = dict(knn_top1=knn_accuracy(bank, queries, len(self.classes), k=self.k,
                                                temperature=self.temperature)['knn_top1'])
            if self.probe_epochs > 0:
                result['probe_top1'] = train_linear_probe(
                    bank, queries, len(self.classes), epochs=self.probe_epochs)['test_top1']
        return result

    def evaluate(self, runner, step: int) -> None:
        """Measure after ``step`` finished iterations (once per step) and log the result."""
        if not self.enabled or step == self._last_step:
            return
        self._last_step = step
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        start, start_cpu = time.perf_counter(), time.process_time()
        result = self.measure(model)
        cpu = time.process_time() - start_cpu
        self.cpu_seconds += cpu
        scalars = {f'online/{name}': value for name, value in result.items()}
        for name, value in scalars.items():
            runner.message_hub.update_scalar(name, value)
        runner.visualizer.add_scalars(scalars, step=step)
        probe = f', linear probe {result["probe_top1"]:.2f} %' if 'probe_top1' in result else ''
        runner.logger.info(
            f'online kNN top-1 {result["knn_top1"]:.2f} %{probe} after iteration {step} '
            f'(bank {len(self.datasets["bank"])} x {self.splits["bank"]}, '
            f'{len(self.datasets["query"])} queries x {self.splits["query"]}, k={self.k}, '
            f'T={self.temperature}; {time.perf_counter() - start:.1f} s, CPU {cpu:.1f} s, '
            f'{self.cpu_seconds:.1f} CPU-s in all)')
