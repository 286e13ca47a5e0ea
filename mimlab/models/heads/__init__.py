from .cls_head import LinearClsHead
from .pixel_head import PixelReconstructionHead

__all__ = ['LinearClsHead', 'PixelReconstructionHead']
