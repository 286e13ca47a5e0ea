from .mae_decoder import MAEPretrainDecoder

__all__ = ['MAEPretrainDecoder']
