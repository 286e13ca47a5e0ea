from .autocast_wrapper import AutocastOptimWrapper
from .lars import Lars
from .layer_decay import LayerDecayOptimWrapperConstructor

__all__ = ['AutocastOptimWrapper', 'LayerDecayOptimWrapperConstructor', 'Lars']
