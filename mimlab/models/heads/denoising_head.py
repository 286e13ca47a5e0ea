"""The prediction layer and loss of denoising pretraining (DDeP)."""
from typing import Dict

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mimlab.registry import MODELS


@MODELS.register_module()
class DenoisingHead(BaseModule):
    """A 1x1 conv from the decoder's features to the image channels, and the mean squared error
    over all pixels and channels. In segmentation this layer is what the class head replaces.

    Args:
        in_channels: the decoder's output width (filled in by the algorithm).
        out_channels: the image channels (filled in by the algorithm).
    """

    def __init__(self, in_channels: int, out_channels: int, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.pred = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, C_dec, H, W) -> (B, C_img, H, W), in fp32 under mixed precision (like the loss)."""
        with torch.autocast(features.device.type, enabled=False):
            return self.pred(features.float())

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> Dict[str, torch.Tensor]:
        """dict(loss_denoise=mean over all pixels of (pred - target)^2), in fp32."""
        if pred.shape != target.shape:
            raise ValueError(f'denoising prediction {tuple(pred.shape)} and target '
                             f'{tuple(target.shape)} differ in shape')
        with torch.autocast(pred.device.type, enabled=False):
            return dict(loss_denoise=(pred.float() - target.float()).pow(2).mean())
