from .timm_encoder import TimmEncoder
from .vision_transformer import ARCH_SETTINGS, MaskedViT, VisionTransformer

__all__ = ['ARCH_SETTINGS', 'MaskedViT', 'TimmEncoder', 'VisionTransformer']
