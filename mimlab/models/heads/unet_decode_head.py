"""The DDeP decoder as an mmsegmentation decode head, and the segmentor that hands it the input
image. This module imports mmseg: it is loaded only when a config builds one of them (see
``downstream.py``), so ``import mimlab`` stays free of it."""
from typing import List, Optional, Sequence

import torch
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.segmentors import EncoderDecoder

from ..necks.unet_decoder import DDEP_WIDTHS, UNetDecoder, load_decoder_weights


class UNetEncoderDecoder(EncoderDecoder):
    """mmseg's ``EncoderDecoder`` whose heads get the input image first, then the backbone's
    (and neck's) features: the U-Net decoder's image skips need it, in segmentation as in
    pretraining. Registered as ``mimlab.UNetEncoderDecoder``."""

    def extract_feat(self, inputs: torch.Tensor) -> List[torch.Tensor]:
        return [inputs] + list(super().extract_feat(inputs))


class UNetDecodeHead(BaseDecodeHead):
    """mmseg decode head whose body is the :class:`UNetDecoder` of denoising pretraining; the
    class head (mmseg's ``conv_seg``, 1x1) takes the place of the noise prediction layer.
    Registered as ``mimlab.UNetDecodeHead``.

    Its inputs are the image and then the backbone's features (``mimlab.UNetEncoderDecoder``), or
    the features alone (mmseg's ``EncoderDecoder``: only for a decoder without image skips).

    Args:
        in_channels: channels of the backbone's feature maps, shallow first (as the decoder).
        in_strides: their strides.
        widths, width_mult, image_skip_strides: the decoder's (must match the pretrained
            decoder's).
        in_chans: the image's channels.
        decoder_checkpoint: a DDeP/DeP checkpoint whose decoder initialises the body (None:
            random initialisation, the baseline).
        decoder_prefix: the decoder's key prefix in that checkpoint.
        dropout_ratio: dropout before ``conv_seg`` (default 0: the pretrained decoder's output
            fed the noise layer directly).
        norm_cfg: the decoder's norm (:class:`UNetDecoder`): ``dict(type='BN')``, or
            ``dict(type='SyncBN')`` with 1-2 images per GPU on several processes (one process
            turns it into BN, ``mimlab.engine.config_checks.convert_sync_bn``).
        **kwargs: the rest of mmseg's ``BaseDecodeHead`` (num_classes, loss_decode, ...).
    """

    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int],
                 widths: Sequence[int] = DDEP_WIDTHS, width_mult: float = 1.0,
                 image_skip_strides: Optional[Sequence[int]] = None, in_chans: int = 3,
                 decoder_checkpoint: Optional[str] = None, decoder_prefix: str = 'neck.',
                 dropout_ratio: float = 0.0, norm_cfg: dict = dict(type='BN'), **kwargs) -> None:
        decoder = UNetDecoder(in_channels, in_strides, widths, width_mult,
                              image_skip_strides=image_skip_strides, in_chans=in_chans,
                              norm_cfg=norm_cfg)
        super().__init__(in_channels=list(in_channels), channels=decoder.out_channels,
                         in_index=list(range(len(in_channels))),
                         input_transform='multiple_select', dropout_ratio=dropout_ratio,
                         norm_cfg=norm_cfg, **kwargs)
        self.decoder = decoder
        self.decoder_checkpoint = decoder_checkpoint
        self.decoder_prefix = decoder_prefix

    def init_weights(self) -> None:
        super().init_weights()
        if self.decoder_checkpoint is not None:
            load_decoder_weights(self.decoder, self.decoder_checkpoint, self.decoder_prefix)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        image = None
        if len(inputs) == len(self.in_channels) + 1:
            image, inputs = inputs[0], inputs[1:]
        elif self.decoder.image_skips:
            raise ValueError(
                f'UNetDecodeHead has image skips (strides {self.decoder.image_skip_strides}) but '
                f'got {len(inputs)} inputs for {len(self.in_channels)} backbone features and no '
                "image: use model.type='mimlab.UNetEncoderDecoder', which hands it the image")
        return self.cls_seg(self.decoder(self._transform_inputs(inputs), image))
