from .reconstruction import (PANELS, draw_reconstructions, save_figure, save_picture,
                             to_uint8_images)

__all__ = ['PANELS', 'draw_reconstructions', 'save_figure', 'save_picture', 'to_uint8_images']
