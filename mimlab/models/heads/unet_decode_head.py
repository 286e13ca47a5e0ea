"""The DDeP decoder as an mmsegmentation decode head. This module imports mmseg: it is loaded only
when a config builds the head (see ``downstream.py``), so ``import mimlab`` stays free of it."""
from typing import Optional, Sequence

import torch
from mmseg.models.decode_heads.decode_head import BaseDecodeHead

from ..necks.unet_decoder import DDEP_WIDTHS, UNetDecoder, load_decoder_weights


class UNetDecodeHead(BaseDecodeHead):
    """mmseg decode head whose body is the :class:`UNetDecoder` of denoising pretraining; the
    class head (mmseg's ``conv_seg``, 1x1) takes the place of the noise prediction layer.
    Registered as ``mimlab.UNetDecodeHead``.

    Args:
        in_channels: channels of the backbone's feature maps, shallow first (as the decoder).
        in_strides: their strides.
        widths, width_mult: the decoder's (must match the pretrained decoder's).
        decoder_checkpoint: a DDeP/DeP checkpoint whose decoder initialises the body (None:
            random initialisation, the baseline).
        decoder_prefix: the decoder's key prefix in that checkpoint.
        dropout_ratio: dropout before ``conv_seg`` (default 0: the pretrained decoder's output
            fed the noise layer directly).
        **kwargs: the rest of mmseg's ``BaseDecodeHead`` (num_classes, loss_decode, ...).
    """

    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int],
                 widths: Sequence[int] = DDEP_WIDTHS, width_mult: float = 1.0,
                 decoder_checkpoint: Optional[str] = None, decoder_prefix: str = 'neck.',
                 dropout_ratio: float = 0.0, **kwargs) -> None:
        decoder = UNetDecoder(in_channels, in_strides, widths, width_mult)
        super().__init__(in_channels=list(in_channels), channels=decoder.out_channels,
                         in_index=list(range(len(in_channels))),
                         input_transform='multiple_select', dropout_ratio=dropout_ratio,
                         **kwargs)
        self.decoder = decoder
        self.decoder_checkpoint = decoder_checkpoint
        self.decoder_prefix = decoder_prefix

    def init_weights(self) -> None:
        super().init_weights()
        if self.decoder_checkpoint is not None:
            load_decoder_weights(self.decoder, self.decoder_checkpoint, self.decoder_prefix)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self.decoder(self._transform_inputs(inputs)))
