"""Shared plumbing of the pretraining algorithms: building parts from the encoder's spec and
dispatching mmengine's forward modes."""
from typing import Dict, List, Optional, Union

import torch
from mmengine.model import BaseModel

from mimlab.registry import MODELS

DEFAULT_PREPROCESSOR = dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
                            std=[58.395, 57.12, 57.375])


class BasePretrainer(BaseModel):
    """Base of the pretraining algorithms.

    Builds ``backbone`` first, then ``neck`` and ``head`` with the backbone's
    :class:`~mimlab.models.utils.EncoderSpec` as ``encoder_spec``, so their sizes never have to
    be kept in step by hand. ``loss()`` returns a dict: mmengine sums the entries whose key
    contains 'loss' and only logs the others.
    """

    def __init__(self, backbone: dict, neck: Optional[dict] = None, head: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor or dict(DEFAULT_PREPROCESSOR),
                         init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        spec = dict(encoder_spec=self.backbone.spec)
        self.neck = MODELS.build(neck, default_args=spec) if neck is not None else None
        self.head = MODELS.build(head, default_args=spec) if head is not None else None

    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.backbone(inputs)
        raise RuntimeError(f'invalid forward mode {mode!r}: use loss, predict or tensor')

    def loss(self, inputs: torch.Tensor,
             data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def predict(self, inputs: torch.Tensor, data_samples: Optional[list] = None):
        raise NotImplementedError
