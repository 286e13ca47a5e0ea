from .autocast_wrapper import AutocastOptimWrapper, set_amp
from .lars import Lars
from .layer_decay import LayerDecayOptimWrapperConstructor

__all__ = ['AutocastOptimWrapper', 'LayerDecayOptimWrapperConstructor', 'Lars', 'set_amp']
