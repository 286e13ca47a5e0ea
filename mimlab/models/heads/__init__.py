from .pixel_head import PixelReconstructionHead

__all__ = ['PixelReconstructionHead']
