"""Pictures of held-out reconstructions during training."""
import os.path as osp
from typing import Optional

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mimlab.datasets.builder import build_split_dataset, collate_present, sample_indices
from mimlab.registry import DATASETS, HOOKS
from mimlab.visualization import draw_reconstructions, save_picture


@HOOKS.register_module()
class ReconstructionHook(Hook):
    """Every ``interval`` iterations and at the end of training, reconstruct the same held-out
    images with the same masks, write ``{work_dir}/vis/reconstruction_iter_{N}.png`` (and
    ``reconstruction_latest.png``), send the picture to the visualizer's backends (an image in
    TensorBoard) and log the loss of the pictured images (``picture/loss_rec``, also to the
    backends: ``num_images`` images, a quick trend; ``tools/test.py`` reports the whole split's,
    ``heldout/loss_rec``). Training data without the held-out split (a folder with only
    ``train/``) trains without them, with one warning naming the keys.

    Args:
        dataset: config of the held-out dataset. None: the training dataset's config with
            ``split`` and the config's ``test_pipeline``, so that pointing
            ``train_dataloader.dataset.data_root`` at other data moves the pictures along.
        split: held-out split used when ``dataset`` is None.
        interval: iterations between pictures (0: only at the end).
        num_images: images in the picture, spread evenly over the dataset.
        seed: seed of the masks.
    """
    priority = 'LOW'

    def __init__(self, dataset: Optional[dict] = None, split: str = 'val', interval: int = 1000,
                 num_images: int = 8, seed: int = 0) -> None:
        self.dataset_cfg = dataset
        self.split = split
        self.interval = interval
        self.num_images = num_images
        self.seed = seed
        self._batch: Optional[dict] = None
        self._skip = False

    def _held_out_batch(self, runner) -> dict:
        if self._batch is None:
            dataset = (DATASETS.build(self.dataset_cfg) if self.dataset_cfg is not None else
                       build_split_dataset(runner.cfg, self.split))
            self._batch = collate_present(
                [dataset[i] for i in sample_indices(len(dataset), self.num_images)])
        return self._batch

    def before_train(self, runner) -> None:
        if not is_main_process():
            return
        try:
            self._held_out_batch(runner)  # fail now, not hours in, if the images can't be read
        except FileNotFoundError as err:
            if self.dataset_cfg is not None:
                raise
            # pretraining needs only training images: a folder without the held-out split
            # trains, without the pictures
            self._skip = True
            runner.logger.warning(
                f'no held-out images, so no reconstruction pictures and no held-out loss: '
                f'{err}. Add that split to train_dataloader.dataset.data_root, or set '
                f'{self._key(runner)}.split to a split it has')

    def _key(self, runner) -> str:
        """This hook's key path in the config, for messages."""
        for i, hook in enumerate(runner.cfg.get('custom_hooks') or ()):
            if isinstance(hook, dict) and str(hook.get('type')).endswith('ReconstructionHook'):
                return f'custom_hooks.{i}'
        return 'ReconstructionHook'

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.interval > 0 and self.every_n_train_iters(runner, self.interval):
            self.draw(runner, runner.iter + 1)

    def after_train(self, runner) -> None:
        self.draw(runner, runner.iter)

    @torch.no_grad()
    def draw(self, runner, step: int) -> None:
        """Draw after ``step`` finished iterations."""
        if not is_main_process() or self._skip:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        was_training = model.training
        model.eval()
        try:
            inputs = model.data_preprocessor(self._held_out_batch(runner), training=False)['inputs']
            generator = torch.Generator().manual_seed(self.seed)
            rec = model.reconstruct(inputs, generator=generator)
        finally:
            model.train(was_training)
        picture = draw_reconstructions(rec, model.pixel_normalisation)
        out_dir = osp.join(runner.work_dir, 'vis')
        path = osp.join(out_dir, f'reconstruction_iter_{step}.png')
        save_picture(picture, path)
        save_picture(picture, osp.join(out_dir, 'reconstruction_latest.png'))
        runner.visualizer.add_image('reconstruction', picture, step=step)
        loss = float(rec.loss.mean())
        runner.message_hub.update_scalar('picture/loss_rec', loss)
        runner.visualizer.add_scalars({'picture/loss_rec': loss}, step=step)
        runner.logger.info(f'reconstruction loss of the {len(rec.loss)} pictured held-out '
                           f'images {loss:.4f} (tools/test.py: the whole split); picture: {path}')
