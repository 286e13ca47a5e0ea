from .autocast_wrapper import AutocastOptimWrapper
from .layer_decay import LayerDecayOptimWrapperConstructor

__all__ = ['AutocastOptimWrapper', 'LayerDecayOptimWrapperConstructor']
