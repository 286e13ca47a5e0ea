"""Shared plumbing of the pretraining algorithms: building parts from the encoder's spec and
dispatching mmengine's forward modes."""
import sys
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel

from mimlab.registry import MODELS
from ..utils import EncoderOutput

DEFAULT_PREPROCESSOR = dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
                            std=[58.395, 57.12, 57.375])


# Packages whose models take a backbone: a mimlab algorithm built inside one of their models
# was put where a backbone belongs.
_DOWNSTREAM_PACKAGES = ('mmseg', 'mmdet', 'mmpretrain', 'mmpose', 'mmaction', 'mmrotate',
                        'mmyolo', 'mmdet3d', 'mmocr')


def refuse_as_backbone(algorithm: nn.Module) -> None:
    """Raise TypeError when ``algorithm`` is being built inside another library's model (e.g.
    ``backbone=dict(type='mimlab.MAE', ...)`` in an mmseg or mmdet config): the nearest enclosing
    module under construction is found on the call stack."""
    frame = sys._getframe(1)
    while frame is not None:
        owner = frame.f_locals.get('self')
        if (frame.f_code.co_name == '__init__' and isinstance(owner, nn.Module)
                and owner is not algorithm):
            if type(owner).__module__.split('.')[0] in _DOWNSTREAM_PACKAGES:
                name = type(algorithm).__name__
                raise TypeError(
                    f'mimlab.{name} is a whole pretraining algorithm (encoder + decoder + head), '
                    f'not a backbone, and cannot be part of {type(owner).__name__}. Use its '
                    "encoder: backbone=dict(type='mimlab.VisionTransformer', arch=..., "
                    "patch_size=..., init_cfg=dict(type='Pretrained', checkpoint=CKPT, "
                    "prefix='backbone.')), or write the encoder out first with "
                    'mimlab.apis.export_backbone (tools/model_converters/export_backbone.py).')
            return
        frame = frame.f_back


class BaseAlgorithm(BaseModel):
    """Base of the algorithms (pretraining and supervised).

    Builds ``backbone`` first, then ``fusion_neck``, ``neck`` and ``head`` with the backbone's
    :class:`~mimlab.models.utils.EncoderSpec` as ``encoder_spec``, so their sizes never have to
    be kept in step by hand. A head whose class sets ``uses_pixel_normalization = True`` also gets
    the data preprocessor's ``pixel_mean`` and ``pixel_std`` (C,) to map inputs back to pixels.
    ``loss()`` returns a dict: mmengine sums the entries whose key contains 'loss' and only logs
    the others.
    """

    def __init__(self, backbone: dict, neck: Optional[dict] = None, head: Optional[dict] = None,
                 fusion_neck: Optional[dict] = None, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        refuse_as_backbone(self)
        super().__init__(data_preprocessor=data_preprocessor or dict(DEFAULT_PREPROCESSOR),
                         init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        # only asked for when a part needs it: encoders with no ViT spec (TimmEncoder) build
        # their parts themselves
        needs_spec = any(cfg is not None for cfg in (neck, head, fusion_neck))
        spec = dict(encoder_spec=self.backbone.spec) if needs_spec else {}
        self.fusion_neck = (MODELS.build(fusion_neck, default_args=spec)
                            if fusion_neck is not None else None)
        self.neck = (MODELS.build(neck, default_args=dict(spec, **self.neck_args(head)))
                     if neck is not None else None)
        self.head = None
        if head is not None:
            head_args = dict(spec)
            head_cls = self.head_class(head)
            if getattr(head_cls, 'uses_pixel_normalization', False):
                head_args.update(pixel_mean=self._preprocessor_stat('mean'),
                                 pixel_std=self._preprocessor_stat('std'))
            self.head = MODELS.build(head, default_args=head_args)

    @staticmethod
    def head_class(head: dict) -> type:
        """The class a head config builds."""
        head_type = head['type']
        return head_type if isinstance(head_type, type) else MODELS.get(head_type)

    def neck_args(self, head: Optional[dict]) -> dict:
        """Further build arguments of the neck, taken from the head's config (none here)."""
        return {}

    def _preprocessor_stat(self, name: str) -> torch.Tensor:
        pre = self.data_preprocessor
        if not getattr(pre, '_enable_normalize', False):
            value = 0.0 if name == 'mean' else 1.0
            return torch.full((self.backbone.in_chans,), value)
        return getattr(pre, name).detach().flatten().clone()

    @property
    def hidden_layers(self) -> tuple:
        """The encoder blocks the fusion neck needs (none without one)."""
        return () if self.fusion_neck is None else self.fusion_neck.hidden_layers

    def output_tokens(self, latent: EncoderOutput) -> torch.Tensor:
        """The encoder tokens that go on: its output, or with a fusion neck the fusion of its
        blocks through the encoder's final norm (so fusing the last block alone is the plain
        encoder)."""
        if self.fusion_neck is None:
            return latent.tokens
        return self.backbone.norm(self.fusion_neck(latent.hidden_states))

    def fusion_weight_logs(self) -> Dict[str, torch.Tensor]:
        """``fusion_w_b{block}`` of a weighted fusion neck, for the loss dict (logged only)."""
        weights = None if self.fusion_neck is None else self.fusion_neck.fusion_weights()
        if weights is None:
            return {}
        return {f'fusion_w_b{block}': w
                for block, w in zip(self.fusion_neck.hidden_layers, weights.detach())}

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
