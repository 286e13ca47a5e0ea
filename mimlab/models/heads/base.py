"""The one protocol of the masked-prediction heads (MAE's pixel head, CAE's token and pixel
heads): an algorithm builds its head first, sizes the part that feeds it from ``head.in_dim``, and
calls every head the same way."""
from typing import Dict

import torch
from mmengine.model import BaseModule

from ..utils import PatchMask


class MaskedPredictionHead(BaseModule):
    """Base of the heads that score predictions of the removed patches.

    The protocol, the same for every such head:

    - ``in_dim`` (int, set at build): the width of each patch's prediction the head takes; the
      algorithm builds the decoder to output it (p*p*C pixels for MAE's pixel head, the encoder's
      width for a head with its own fc).
    - ``loss(pred, images, patch_mask)`` -> dict of losses, where ``pred`` is (B, L_removed,
      in_dim), the predictions of the removed patches in ``patch_mask.ids_removed`` order (an
      algorithm whose decoder predicts every patch passes ``patch_mask.removed(pred)``),
      ``images`` the (B, C, H, W) normalised inputs and ``patch_mask`` the batch's
      :class:`PatchMask`.
    - ``patch_losses(pred, images, patch_mask)`` -> (B, L_removed), the loss of each removed
      patch (its mean per image is the held-out figure of ``predict``).
    - ``to_pixels(pred, images)`` -> (B, L, p*p*C): predictions of every patch, (B, L, in_dim) in
      patch order, as patches in the images' normalised space (for pictures).
    """
    in_dim: int

    def patch_losses(self, pred: torch.Tensor, images: torch.Tensor,
                     patch_mask: PatchMask) -> torch.Tensor:
        raise NotImplementedError

    def loss(self, pred: torch.Tensor, images: torch.Tensor,
             patch_mask: PatchMask) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def to_pixels(self, pred: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError
