from .cae_regressor import CAEPretrainDecoder, LatentContextualRegressor
from .feature_pyramid import MultiDepthFeaturePyramid, NeckSequence, SimpleFeaturePyramid
from .fusion_neck import MultiLevelFusionNeck, default_fusion_layers
from .mae_decoder import MAEPretrainDecoder
from .unet_decoder import DDEP_WIDTHS, UNetDecoder

__all__ = ['CAEPretrainDecoder', 'DDEP_WIDTHS', 'LatentContextualRegressor',
           'MAEPretrainDecoder', 'MultiDepthFeaturePyramid', 'MultiLevelFusionNeck',
           'NeckSequence', 'SimpleFeaturePyramid', 'UNetDecoder', 'default_fusion_layers']
