"""The high-pass denoising baseline on a DDeP config's held-out images."""
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mimlab.evaluation.denoising import highpass_noise_baseline
from .inference import build_split_dataset, init_model


def heldout_highpass_baseline(cfg: Config, split: str = 'validation',
                              batch_size: Optional[int] = None) -> dict:
    """:func:`~mimlab.evaluation.denoising.highpass_noise_baseline` on ``split`` of a DDeP
    config, read through its ``test_pipeline`` and data preprocessor, with the noise of
    ``DDeP.predict`` (the config's level and form, seed 0 per batch of ``batch_size``, default
    the config's test batch size): the same noisy images the held-out loss of ``tools/test.py``
    is measured on."""
    model = init_model(cfg)
    if model.target != 'noise':
        raise ValueError(f'the high-pass baseline estimates the noise; model.target is '
                         f'{model.target!r}')
    dataset = build_split_dataset(cfg, split)
    batch_size = batch_size or cfg.test_dataloader.batch_size

    def pairs():
        for start in range(0, len(dataset), batch_size):
            batch = pseudo_collate([dataset[i] for i in
                                    range(start, min(start + batch_size, len(dataset)))])
            inputs = model.data_preprocessor(batch, training=False)['inputs']
            yield model.make_noisy(inputs, torch.Generator(inputs.device).manual_seed(0))

    result = highpass_noise_baseline(pairs())
    return dict(result, split=split, images=len(dataset), noise_sigma=model.noise_sigma,
                noise_form=model.noise_form)
