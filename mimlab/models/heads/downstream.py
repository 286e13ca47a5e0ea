"""Heads for mmsegmentation / mmdetection, registered as builders: their classes subclass those
packages' bases, so the class modules are imported only when a config builds one, and
``import mimlab`` and pretraining never import mmseg or mmdet."""
from mimlab.registry import MODELS


@MODELS.register_module(name='UNetDecodeHead')
def build_unet_decode_head(**kwargs):
    """``type='mimlab.UNetDecodeHead'`` in an mmseg config: see
    :class:`mimlab.models.heads.unet_decode_head.UNetDecodeHead`."""
    from .unet_decode_head import UNetDecodeHead
    return UNetDecodeHead(**kwargs)


@MODELS.register_module(name='UNetEncoderDecoder')
def build_unet_encoder_decoder(**kwargs):
    """``type='mimlab.UNetEncoderDecoder'`` in an mmseg config: see
    :class:`mimlab.models.heads.unet_decode_head.UNetEncoderDecoder`."""
    from .unet_decode_head import UNetEncoderDecoder
    return UNetEncoderDecoder(**kwargs)
