from .attentive_head import AttentiveClsHead
from .base import MaskedPredictionHead
from .cae_head import CAEPixelHead, DVAETokenHead
from .cls_head import LinearClsHead
from .denoising_head import DenoisingHead
from .downstream import build_unet_decode_head  # (registers mimlab.UNetDecodeHead)
from .pixel_head import PixelReconstructionHead

__all__ = ['AttentiveClsHead', 'CAEPixelHead', 'DVAETokenHead', 'DenoisingHead', 'LinearClsHead',
           'MaskedPredictionHead', 'PixelReconstructionHead', 'build_unet_decode_head']
