from .dalle import DALLE_ENCODER_URL, DALLEEncoder
from .dvae import DiscreteVAE

__all__ = ['DALLE_ENCODER_URL', 'DALLEEncoder', 'DiscreteVAE']
