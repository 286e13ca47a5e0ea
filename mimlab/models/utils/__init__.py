from .masking import MASK_MODES, PatchMask, generate_mask, num_masked_patches
from .frequency import low_pass, radial_frequency
from .layers import LayerNorm6
from .patch import patchify, sincos_pos_embed_2d, unpatchify
from .structures import EncoderOutput, EncoderSpec

__all__ = [
    'LayerNorm6', 'MASK_MODES', 'PatchMask', 'generate_mask', 'num_masked_patches', 'patchify', 'unpatchify',
    'sincos_pos_embed_2d', 'EncoderOutput', 'EncoderSpec', 'low_pass', 'radial_frequency'
]
