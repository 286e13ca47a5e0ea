from .frequency import low_pass, radial_frequency
from .masking import MASK_MODES, PatchMask, generate_mask, num_masked_patches
from .pca import fit_pca, load_pca
from .patch import LayerNorm6, patchify, sincos_pos_embed_2d, unpatchify
from .structures import (Encoding, EncoderSpec, FeatureMapLayout, MaskedEncoding,
                         MaskedPredictionHead, PixelNormalisation, TokenLayout)

__all__ = [
    'Encoding', 'EncoderSpec', 'FeatureMapLayout', 'LayerNorm6', 'MASK_MODES', 'MaskedEncoding',
    'MaskedPredictionHead', 'PatchMask', 'PixelNormalisation', 'TokenLayout', 'fit_pca',
    'generate_mask', 'load_pca', 'low_pass', 'num_masked_patches', 'patchify', 'radial_frequency',
    'sincos_pos_embed_2d', 'unpatchify'
]
