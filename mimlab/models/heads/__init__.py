from ..utils import MaskedPredictionHead
from .attentive_head import AttentiveClsHead
from .cae_head import CAEPixelHead, DVAETokenHead
from .cls_head import LinearClsHead
from .denoising_head import DenoisingHead
from .downstream import build_unet_decode_head  # (registers mimlab.UNetDecodeHead)
from .pixel_head import PixelReconstructionHead, PixelTarget

__all__ = ['AttentiveClsHead', 'CAEPixelHead', 'DVAETokenHead', 'DenoisingHead', 'LinearClsHead',
           'MaskedPredictionHead', 'PixelReconstructionHead', 'PixelTarget',
           'build_unet_decode_head']
