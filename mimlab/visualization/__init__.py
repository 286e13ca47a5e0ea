from .reconstruction import PANELS, draw_reconstructions, save_picture, to_uint8_images

__all__ = ['PANELS', 'draw_reconstructions', 'save_picture', 'to_uint8_images']
