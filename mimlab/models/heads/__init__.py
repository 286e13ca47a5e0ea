from .cls_head import LinearClsHead
from .pixel_head import PixelReconstructionHead

__all__ = ['LinearClsHead', 'PixelReconstructionHead']
from .cae_head import CAEPixelHead, DVAETokenHead  # noqa: E402

__all__ += ['CAEPixelHead', 'DVAETokenHead']
