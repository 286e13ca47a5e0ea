"""The U-Net-style decoder of DDeP (TransUNet-like): encoder features at several depths and the
(noisy) input image in, a full-resolution feature map out. Its sizes come from the encoder's
features (channels, strides)."""
import math
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule

from mimlab.registry import MODELS
from .feature_pyramid import build_norm_2d

# The paper's decoder widths at 1x; 2x and 3x multiply every width (``width_mult``).
DDEP_WIDTHS = (1024, 512, 256, 128, 64)


NORM = dict(type='BN')


def conv_bn_relu(in_channels: int, out_channels: int, norm_cfg: dict = NORM) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
                         build_norm_2d(norm_cfg, out_channels), nn.ReLU(inplace=True))


def upsampler(in_channels: int, out_channels: int, factor: int,
              norm_cfg: dict = NORM) -> nn.Sequential:
    """log2(factor) x (2x transposed conv, norm, ReLU): brings a coarse skip feature (a plain
    ViT's block output at the patch stride) to a finer stage, as UNETR does."""
    layers = []
    for i in range(int(math.log2(factor))):
        layers += [nn.ConvTranspose2d(in_channels if i == 0 else out_channels, out_channels, 2,
                                      stride=2, bias=False),
                   build_norm_2d(norm_cfg, out_channels), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def image_stem(in_channels: int, out_channels: int, stride: int,
               norm_cfg: dict = NORM) -> nn.Sequential:
    """A convolutional skip from the input image to a decoder stage at ``stride``: a 3x3
    conv-BN-ReLU (stride 2 for a stride-2 stage, as TransUNet's ResNet stem; stride 1 for the
    full-resolution stage, as UNETR's convolutional skip from the raw input), further stride-2
    ones down to ``stride``, then one 3x3 conv-BN-ReLU at the stage's resolution."""
    layers, channels, step = [], in_channels, 1 if stride == 1 else 2
    for _ in range(max(1, int(math.log2(stride)))):
        layers += [nn.Conv2d(channels, out_channels, 3, stride=step, padding=1, bias=False),
                   build_norm_2d(norm_cfg, out_channels), nn.ReLU(inplace=True)]
        channels = out_channels
    return nn.Sequential(*layers, conv_bn_relu(out_channels, out_channels, norm_cfg))


def _is_power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


@MODELS.register_module()
class UNetDecoder(BaseModule):
    """U-Net decoder with skip connections on a (hybrid) ViT encoder (TransUNet, DDeP).

    The last (deepest) encoder feature is the bottleneck: a 3x3 conv maps it to ``widths[0]`` at
    its stride S. Each further stage doubles the resolution (bilinear), concatenates a skip
    feature and applies two 3x3 conv-BN-ReLU layers of the stage's width. The other encoder
    features are the skips, deepest first: the second-to-last feature joins stage 1 (stride S/2),
    the one before it stage 2, and so on; later stages have none. A skip at the stage's stride is
    concatenated as it is (the ResNet features of the hybrid encoder); a coarser one (a plain
    ViT's blocks, all at the patch stride) is first brought to the stage's stride and width by
    transposed convolutions (UNETR). If the last stage is above stride 1, its output is resized
    bilinearly to the input size.

    Per-pixel noise can only be predicted from fine-scale input, which a plain ViT does not give
    (all its features are at the patch stride). So the stages finer than the encoder's finest
    feature also get a convolutional skip from the input image itself (``image_skip_strides``,
    by default those at strides 1 and 2): UNETR's full-resolution conv skip from the raw input
    and a stride-2 one in the place of TransUNet's ResNet stem. With the hybrid R50+ViT (finest
    feature: the ResNet stem at stride 2) that is the full-resolution stage only, whose
    TransUNet block has no skip at all; ``image_skip_strides=()`` gives TransUNet's layout, the
    paper's (its R50 configs set it).

    Args:
        in_channels: channels of the encoder's feature maps, shallow first (filled in from the
            encoder by the algorithm; stated in an mmseg config).
        in_strides: their strides (input size / feature size), each a power of two.
        widths: stage widths; at most log2(S) + 1 stages. Paper 1x: (1024, 512, 256, 128, 64).
        width_mult: multiplies every width (the paper's 2x and 3x decoders).
        image_skip_strides: the stage strides that get a conv skip from the input image (each
            must be a stage's stride). None: the stages at strides 1 and 2 that are finer than
            the encoder's finest feature.
        in_chans: the input image's channels (filled in by the algorithm).
        norm_cfg: the norm after every convolution: ``dict(type='BN')`` (TransUNet's) or
            ``'SyncBN'`` (statistics over all processes: segmentation fine-tuning at 1-2 images
            per GPU), ``'GN'``; the state dict keys are the same for BN and SyncBN.
    """

    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int],
                 widths: Sequence[int] = DDEP_WIDTHS, width_mult: float = 1.0,
                 image_skip_strides: Optional[Sequence[int]] = None, in_chans: int = 3,
                 norm_cfg: dict = NORM, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        in_channels, in_strides = list(in_channels), list(in_strides)
        if not in_channels or len(in_channels) != len(in_strides):
            raise ValueError(f'decoder in_channels {in_channels} and in_strides {in_strides} '
                             'must be non-empty and of equal length (one per encoder feature)')
        if not all(_is_power_of_two(s) for s in in_strides):
            raise ValueError(f'decoder in_strides must be powers of two, got {in_strides} (e.g. '
                             'a patch size of 14 cannot be upsampled 2x at a time)')
        if width_mult <= 0:
            raise ValueError(f'decoder width_mult must be > 0, got {width_mult}')
        self.widths = [max(1, round(w * width_mult)) for w in widths]
        bottleneck_stride = in_strides[-1]
        max_stages = int(math.log2(bottleneck_stride)) + 1
        if not 1 <= len(self.widths) <= max_stages:
            raise ValueError(
                f'decoder widths has {len(self.widths)} entries, but an encoder of stride '
                f'{bottleneck_stride} allows 1 to {max_stages} (the bottleneck, then one per 2x '
                'upsampling)')
        skips = list(range(len(in_channels) - 1))[::-1]  # encoder feature per stage 1, 2, ...
        if len(skips) > len(self.widths) - 1:
            raise ValueError(
                f'the encoder gives {len(skips)} skip features but the decoder has only '
                f'{len(self.widths) - 1} upsampling stages: give fewer out_indices or more '
                'widths')
        self.in_channels, self.in_strides = in_channels, in_strides
        self.stage_strides = [bottleneck_stride >> i for i in range(len(self.widths))]
        self.skip_of_stage = {stage: feature for stage, feature in enumerate(skips, start=1)}
        if image_skip_strides is None:
            image_skip_strides = [s for s in self.stage_strides if s <= 2 and s < min(in_strides)]
        unknown = sorted(set(image_skip_strides) - set(self.stage_strides[1:]))
        if unknown:
            raise ValueError(f'decoder image_skip_strides {unknown} are not the strides of its '
                             f'upsampling stages {self.stage_strides[1:]}')
        self.image_skip_strides = sorted(set(image_skip_strides))
        self.image_skips = nn.ModuleDict()

        self.bottleneck = conv_bn_relu(in_channels[-1], self.widths[0], norm_cfg)
        self.skip_adapters = nn.ModuleDict()
        self.stages = nn.ModuleList()
        for stage in range(1, len(self.widths)):
            width, skip_channels = self.widths[stage], 0
            feature = self.skip_of_stage.get(stage)
            if feature is not None:
                factor = in_strides[feature] // self.stage_strides[stage]
                if in_strides[feature] < self.stage_strides[stage]:
                    raise ValueError(
                        f'encoder feature {feature} (stride {in_strides[feature]}) is finer '
                        f'than decoder stage {stage} (stride {self.stage_strides[stage]}) it '
                        'joins: give the features shallow (fine) first')
                skip_channels = in_channels[feature]
                if factor > 1:
                    self.skip_adapters[str(stage)] = upsampler(skip_channels, width, factor,
                                                               norm_cfg)
                    skip_channels = width
            if self.stage_strides[stage] in self.image_skip_strides:
                self.image_skips[str(stage)] = image_stem(in_chans, width,
                                                          self.stage_strides[stage], norm_cfg)
                skip_channels += width
            self.stages.append(nn.Sequential(conv_bn_relu(self.widths[stage - 1] + skip_channels,
                                                          width, norm_cfg),
                                             conv_bn_relu(width, width, norm_cfg)))

    @property
    def out_channels(self) -> int:
        return self.widths[-1]

    @property
    def out_stride(self) -> int:
        return self.stage_strides[-1]

    def forward(self, features: Sequence[torch.Tensor],
                image: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Args:
            features: the encoder's feature maps, shallow first, (B, C_i, H / s_i, W / s_i).
            image: (B, in_chans, H, W) the encoder's input (the noisy image in pretraining);
                needed when the decoder has image skips.

        Returns:
            (B, widths[-1], H, W) decoder features at the input resolution.
        """
        if len(features) != len(self.in_channels):
            raise ValueError(f'the decoder was built for {len(self.in_channels)} encoder '
                             f'features, got {len(features)}')
        if self.image_skips and image is None:
            raise ValueError(f'the decoder has image skips at strides {self.image_skip_strides}: '
                             'pass the input image (forward(features, image))')
        x = self.bottleneck(features[-1])
        for stage, block in enumerate(self.stages, start=1):
            x = F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)
            feature = self.skip_of_stage.get(stage)
            if feature is not None:
                skip = features[feature]
                if str(stage) in self.skip_adapters:
                    skip = self.skip_adapters[str(stage)](skip)
                x = torch.cat([x, skip], dim=1)
            if str(stage) in self.image_skips:
                x = torch.cat([x, self.image_skips[str(stage)](image)], dim=1)
            x = block(x)
        if self.out_stride > 1:
            x = F.interpolate(x, scale_factor=self.out_stride, mode='bilinear',
                              align_corners=False)
        return x


def load_decoder_weights(decoder: UNetDecoder, checkpoint: str, prefix: str = 'neck.') -> None:
    """Load a DDeP checkpoint's decoder (keys ``prefix`` + name) into ``decoder``; every weight
    must be there with its shape, so a decoder of other widths or skips fails with the keys."""
    from mmengine.runner.checkpoint import _load_checkpoint
    state = _load_checkpoint(checkpoint, map_location='cpu')
    state = state.get('state_dict', state)
    weights = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not weights:
        raise KeyError(f'checkpoint {checkpoint} has no decoder weights (no key starts with '
                       f'{prefix!r})')
    try:
        decoder.load_state_dict(weights, strict=True)
    except RuntimeError as err:
        raise RuntimeError(f'the decoder weights of {checkpoint} (prefix {prefix!r}) do not fit '
                           f'this decoder: give it the pretrained widths, width_mult and encoder '
                           f'features.\n{err}') from err
    print_log(f'loaded the U-Net decoder ({len(weights)} tensors, {prefix!r}) from {checkpoint}',
              logger='current')
