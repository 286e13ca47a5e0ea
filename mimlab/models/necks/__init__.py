from .fusion_neck import MultiLevelFusionNeck, default_fusion_layers
from .feature_pyramid import MultiDepthFeaturePyramid, NeckSequence, SimpleFeaturePyramid
from .mae_decoder import MAEPretrainDecoder

__all__ = ['MAEPretrainDecoder', 'MultiLevelFusionNeck', 'default_fusion_layers',
           'MultiDepthFeaturePyramid', 'NeckSequence', 'SimpleFeaturePyramid']
from .cae_regressor import CAEPretrainDecoder, LatentContextualRegressor  # noqa: E402

__all__ += ['CAEPretrainDecoder', 'LatentContextualRegressor']
from .unet_decoder import DDEP_WIDTHS, UNetDecoder  # noqa: E402

__all__ += ['DDEP_WIDTHS', 'UNetDecoder']
