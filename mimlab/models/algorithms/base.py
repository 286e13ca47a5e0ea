"""The base of the algorithms: the data preprocessor, the encoder's spec and mmengine's forward
modes. Each algorithm builds its own parts in its ``__init__``."""
from typing import Dict, List, Optional, Union

import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement

from mimlab.registry import MODELS
from ..utils import EncoderSpec, PixelNormalisation

DEFAULT_PREPROCESSOR = dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
                            std=[58.395, 57.12, 57.375])


def sample_seeds(data_samples: Optional[list], batch_size: int) -> List[int]:
    """The seed of each image's held-out randomness (its mask, its noise): its index in the
    dataset (``sample_idx``, which ``PackInputs`` keeps), so that a test split's loss is the same
    however it is batched and on any number of processes; its place in the batch when the
    samples do not say (a batch made by hand)."""
    seeds = [sample.metainfo.get('sample_idx') for sample in data_samples or ()
             if isinstance(sample, BaseDataElement)]
    if len(seeds) != batch_size or any(seed is None for seed in seeds):
        return list(range(batch_size))
    return [int(seed) for seed in seeds]


class BaseAlgorithm(BaseModel):
    """Base of the algorithms (pretraining and supervised): dispatches mmengine's modes.

    - ``loss``: ``loss(inputs, data_samples)`` returns a dict; mmengine sums the entries whose key
      contains 'loss' and only logs the others.
    - ``predict``: ``predict(inputs, data_samples)``, per-image results for the evaluator.
    - ``tensor``: ``extract_feat(inputs)``, the whole image through the encoder, nothing masked
      (feature extraction never sees a random subset of the patches).

    Args:
        data_preprocessor: mmengine data preprocessor config (default: ImageNet's mean and std).
            Its ``mean``/``std`` are also the pixel normalisation that :meth:`build_encoder`
            puts in the encoder's spec.
        init_cfg: mmengine init config.
        compile: ``True`` or a dict of :func:`torch.compile` arguments (e.g.
            ``dict(backend='inductor', mode='max-autotune-no-cudagraphs')``) compiles ``loss()``,
            the training forward (masking, encoder, decoder, head and loss; AOT autograd
            compiles its backward too). The data preprocessor and the optimizer step stay eager:
            mmengine's own top-level ``compile=True`` compiles the whole ``train_step``,
            optimizer included, which dynamo cannot trace (torch 2.14: ``_set_capturable``
            fails), and a fused AdamW step is one kernel already. ``predict`` and
            ``mode='tensor'`` stay eager.
    """

    def __init__(self, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None,
                 compile: Union[bool, dict] = False) -> None:
        data_preprocessor = data_preprocessor or dict(DEFAULT_PREPROCESSOR)
        if not isinstance(data_preprocessor, dict):
            raise TypeError('model.data_preprocessor must be a config dict (its mean and std are '
                            f'the pixel normalisation the parts see), got '
                            f'{type(data_preprocessor).__name__}')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.pixel_normalisation = PixelNormalisation.of(data_preprocessor.get('mean'),
                                                         data_preprocessor.get('std'))
        if not isinstance(compile, (bool, dict)):
            raise TypeError(f'model compile must be True/False or a dict of torch.compile '
                            f'arguments, got {compile!r}')
        # the class's function, not the bound method: a deep copy of the model (EMA, tools)
        # then runs its own weights through it, not the original's
        self._compiled_loss = (torch.compile(type(self).loss,
                                             **(compile if isinstance(compile, dict) else {}))
                               if compile is not False else None)

    def build_encoder(self, backbone: dict) -> EncoderSpec:
        """Build ``self.backbone``; returns its :class:`EncoderSpec` with the inputs' pixel
        normalisation, which every further part is built from."""
        self.backbone = MODELS.build(backbone)
        return self.backbone.spec.normalised_by(self.pixel_normalisation)

    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            if self._compiled_loss is not None:
                return self._compiled_loss(self, inputs, data_samples)
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs)
        raise RuntimeError(f'invalid forward mode {mode!r}: use loss, predict or tensor')

    def extract_feat(self, inputs: torch.Tensor):
        """The whole image through the encoder, nothing masked: its
        :class:`~mimlab.models.utils.Encoding` (``.tokens``, (B, 1 + L, D))."""
        return self.backbone.encode(inputs)

    def loss(self, inputs: torch.Tensor,
             data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def predict(self, inputs: torch.Tensor, data_samples: Optional[list] = None):
        raise NotImplementedError
