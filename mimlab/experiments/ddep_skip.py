"""How much of a trained DDeP decoder's denoising comes through its image skips: the held-out
eps-MSE with the encoder's features as they are and zeroed, against predicting no noise."""
from typing import Optional, Union

import numpy as np
from mmengine.config import Config

from mimlab.apis.inference import init_model
from mimlab.datasets import build_split_dataset, collate_present
from mimlab.engine.resume import stored_config
from mimlab.registry import ConfigError


def check_trained_as(model, checkpoint: str) -> None:
    """Refuse a DDeP ``model`` whose target differs from the one the checkpoint's run trained
    (the config mmengine stores in the checkpoint's meta): the weights would load and be scored
    against the wrong target. A checkpoint without a stored config is not checked."""
    stored = stored_config(checkpoint)
    if stored is None:
        return
    trained = stored.model.get('target', 'noise')
    if trained != model.target:
        raise ConfigError(
            f"model.target: {checkpoint} was trained with target '{trained}', the config says "
            f"'{model.target}'; pass --cfg-options model.target={trained} or the run's own "
            'config from its work dir')


def skip_share(cfg: Union[str, Config], checkpoint: str, split: str = 'validation',
               batch_size: Optional[int] = None) -> dict:
    """Score a DDeP checkpoint on ``split`` of its config, with the fixed per-image noise of
    ``tools/test.py`` (``DDeP.predict``), twice: as trained and with the encoder's features fed to
    the decoder zeroed (``zero_encoder``). Returns the mean eps-MSE of both (``eps_mse``,
    ``eps_mse_zero_encoder``; an image-target model is scored on the noise its clean image
    implies), ``eps_sq`` (the eps-MSE of predicting no noise) and
    ``skip_share = (eps_sq - eps_mse_zero_encoder) / (eps_sq - eps_mse)``: 1 when the image skips
    alone denoise as well as the whole decoder, 0 when they do no better than predicting no
    noise."""
    model = init_model(cfg, checkpoint)
    check_trained_as(model, checkpoint)
    cfg = model.cfg
    dataset = build_split_dataset(cfg, split)
    batch_size = batch_size or cfg.test_dataloader.batch_size
    full, zeroed = [], []
    for start in range(0, len(dataset), batch_size):
        batch = collate_present([dataset[i] for i in
                                 range(start, min(start + batch_size, len(dataset)))])
        data = model.data_preprocessor(batch, training=False)
        full += model.predict(data['inputs'], data['data_samples'])
        zeroed += model.predict(data['inputs'], data['data_samples'], zero_encoder=True)
    eps_mse = float(np.mean([r['eps_mse'] for r in full]))
    eps_mse_zero = float(np.mean([r['eps_mse'] for r in zeroed]))
    eps_sq = float(np.mean([r['eps_sq'] for r in full]))
    return dict(checkpoint=checkpoint, split=split, images=len(full), target=model.target,
                image_skip_strides=list(model.neck.image_skip_strides), eps_mse=eps_mse,
                eps_mse_zero_encoder=eps_mse_zero, eps_sq=eps_sq,
                skip_share=(eps_sq - eps_mse_zero) / (eps_sq - eps_mse))
