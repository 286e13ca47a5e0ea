from .mae_vit import MaskedViT
from .timm_encoder import TimmEncoder
from .vision_transformer import ARCH_SETTINGS, VisionTransformer

__all__ = ['ARCH_SETTINGS', 'MaskedViT', 'TimmEncoder', 'VisionTransformer']
