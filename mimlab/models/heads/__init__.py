from .base import MaskedPredictionHead
from .cls_head import LinearClsHead
from .pixel_head import PixelReconstructionHead

__all__ = ['LinearClsHead', 'MaskedPredictionHead', 'PixelReconstructionHead']
from .cae_head import CAEPixelHead, DVAETokenHead  # noqa: E402

__all__ += ['CAEPixelHead', 'DVAETokenHead']
from .denoising_head import DenoisingHead  # noqa: E402
from .downstream import build_unet_decode_head  # noqa: E402  (registers mimlab.UNetDecodeHead)

__all__ += ['DenoisingHead', 'build_unet_decode_head']
