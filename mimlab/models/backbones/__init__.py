from .mae_vit import MaskedViT
from .vision_transformer import ARCH_SETTINGS, VisionTransformer

__all__ = ['ARCH_SETTINGS', 'MaskedViT', 'VisionTransformer']
from .timm_encoder import TimmEncoder  # noqa: E402

__all__ += ['TimmEncoder']
