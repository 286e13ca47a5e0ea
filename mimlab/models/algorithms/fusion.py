"""What MFF and the classifier share when they carry MFF's fusion neck (optional for the
classifier)."""
from typing import Dict, Union

import torch

from ..utils import Encoding, MaskedEncoding


class FusionNeckMixin:
    """For an algorithm with ``self.backbone`` and ``self.fusion_neck`` (a
    :class:`MultiLevelFusionNeck` or None)."""

    @property
    def hidden_layers(self) -> tuple:
        """The encoder blocks the fusion neck needs (none without one)."""
        return () if self.fusion_neck is None else self.fusion_neck.hidden_layers

    def output_tokens(self, latent: Union[Encoding, MaskedEncoding]) -> torch.Tensor:
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
