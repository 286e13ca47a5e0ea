"""Any timm model as a multi-depth feature encoder, with weights from a local file only."""
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.runner.checkpoint import _load_checkpoint

from mimlab.registry import MODELS
from ..utils import EncoderSpec, FeatureMapLayout


def _read_weights(path: str, model: nn.Module) -> Optional[Dict[str, torch.Tensor]]:
    """A state dict from ``path`` (.safetensors, or a torch file through mimlab's safe loader);
    None when the model loaded the file itself (timm's .npz loader for official ViT weights)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'TimmEncoder checkpoint {path} does not exist (weights are '
                                'read from a local file only; nothing is downloaded)')
    if path.endswith('.npz'):
        if not hasattr(model, 'load_pretrained'):
            raise ValueError(f'TimmEncoder checkpoint {path}: {type(model).__name__} cannot read '
                             '.npz weights; convert them to a .pth or .safetensors state dict')
        model.load_pretrained(path)
        return None
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(path, device='cpu')
    state = _load_checkpoint(path, map_location='cpu')
    for key in ('state_dict', 'model'):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    return state


@MODELS.register_module()
class TimmEncoder(BaseModule):
    """A timm model returning feature maps from several depths, shallow first, as the U-Net
    decoder wants them: ``forward_intermediates`` where the model has it (ViTs, hybrid ViTs,
    most CNNs), else timm's ``features_only`` wrapper (``FeatureListNet``).

    ``tap_modules`` adds the outputs of named inner modules in front of those features: the
    ResNet stages inside timm's hybrid ViT give TransUNet's skip connections, e.g. for
    ``vit_base_r50_s16_224``: ``('patch_embed.backbone.stem.norm',
    'patch_embed.backbone.stages.0', 'patch_embed.backbone.stages.1')`` (strides 2, 4, 8) before
    the ViT's last block (stride 16).

    Weights never come from a hub: the model is built with ``pretrained=False`` and, in
    ``init_weights`` (as mmengine's ``Pretrained`` init), loads ``checkpoint`` (a local
    .pth/.safetensors state dict, or timm's .npz for official ViT weights), passed through the
    model's own timm ``checkpoint_filter_fn`` (format conversion, position-embedding resizing).
    Every encoder weight must be found in it (a classifier head may be missing or extra).

    Args:
        model_name: a timm model name, e.g. 'vit_base_r50_s16_224', 'resnet50'.
        out_indices: which blocks / stages to return (negative counts from the end).
        tap_modules: names of inner modules whose outputs come first (see above).
        checkpoint: local weights file, or None for random initialisation.
        checkpoint_prefix: strip this prefix from the checkpoint's keys (e.g. 'backbone.model.'
            for the encoder of a mimlab checkpoint).
        norm_features: apply the model's final norm to the returned blocks (timm's
            ``forward_intermediates(norm=True)``; TransUNet's bottleneck is the normed output).
        img_size: input size used to measure the features' channels and strides (default: the
            model's own); for ViTs also passed to the model.
        in_chans: image channels.
        **model_kwargs: passed to ``timm.create_model``.
    """

    def __init__(self, model_name: str, out_indices: Sequence[int] = (-1,),
                 tap_modules: Sequence[str] = (), checkpoint: Optional[str] = None,
                 checkpoint_prefix: str = '', norm_features: bool = False,
                 img_size: Optional[Union[int, Tuple[int, int]]] = None, in_chans: int = 3,
                 init_cfg=None, **model_kwargs) -> None:
        super().__init__(init_cfg=init_cfg)
        import timm
        if img_size is not None and 'vit' in model_name:
            model_kwargs['img_size'] = img_size
        self.model = timm.create_model(model_name, pretrained=False, in_chans=in_chans,
                                       num_classes=0, **model_kwargs)
        self.in_chans = in_chans
        self.out_indices = list(out_indices)
        self.norm_features = norm_features
        self.checkpoint, self.checkpoint_prefix = checkpoint, checkpoint_prefix
        self.features = None
        if not hasattr(self.model, 'forward_intermediates'):
            from timm.models import FeatureListNet
            self.features = FeatureListNet(self.model, out_indices=self.out_indices)
            del self.model
        modules = dict(self.named_modules())
        self._taps: List[torch.Tensor] = []
        self.tap_modules = list(tap_modules)
        for name in self.tap_modules:
            full = f'model.{name}' if self.features is None else f'features.{name}'
            if full not in modules:
                raise KeyError(f'TimmEncoder tap_modules: {model_name} has no module {name!r}')
            modules[full].register_forward_hook(self._tap)
        self.out_channels, self.out_strides = self._measure(img_size)

    @property
    def spec(self) -> EncoderSpec:
        """The feature maps' channels and strides (measured at build); no ViT token layout."""
        return EncoderSpec(in_chans=self.in_chans,
                           feature_maps=FeatureMapLayout(channels=tuple(self.out_channels),
                                                         strides=tuple(self.out_strides)))

    def _tap(self, module: nn.Module, args, output: torch.Tensor) -> None:
        self._taps.append(output)

    def init_weights(self) -> None:
        super().init_weights()
        if self.checkpoint is not None:
            self.load_weights(self.checkpoint, self.checkpoint_prefix)

    def load_weights(self, checkpoint: str, prefix: str = '') -> None:
        """Load a local weights file (see the class docstring); called by ``init_weights``."""
        model = self.model if self.features is None else self.features
        state = _read_weights(checkpoint, model)
        if state is None:
            return
        if prefix:
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            if not state:
                raise KeyError(f'TimmEncoder checkpoint {checkpoint} has no key starting with '
                               f'checkpoint_prefix={prefix!r}')
        # the model's own converter (official formats, position-embedding size); timm's
        # features_only wrapper of a model without forward_intermediates takes the keys as they are
        filter_fn = getattr(sys.modules[type(model).__module__], 'checkpoint_filter_fn', None)
        if filter_fn is not None and self.features is None:
            state = filter_fn(state, model)
        result = model.load_state_dict(state, strict=False)
        if result.missing_keys:
            raise KeyError(f'TimmEncoder checkpoint {checkpoint} lacks {len(result.missing_keys)} '
                           f'encoder weights, e.g. {result.missing_keys[:5]}')
        if result.unexpected_keys:
            print_log(f'TimmEncoder: ignored {len(result.unexpected_keys)} keys of {checkpoint} '
                      f'(e.g. {result.unexpected_keys[:3]})', logger='current')

    def _measure(self, img_size) -> Tuple[List[int], List[int]]:
        """Channels and strides of the features, from one forward pass on zeros."""
        if img_size is None:
            module = self.model if self.features is None else self.features
            img_size = getattr(module, 'pretrained_cfg', {}).get('input_size', (3, 224, 224))[1:]
        h, w = (img_size, img_size) if isinstance(img_size, int) else img_size
        was_training = self.training
        self.eval()
        with torch.no_grad():
            feats = self(torch.zeros(1, self.in_chans, h, w))
        self.train(was_training)
        return [f.shape[1] for f in feats], [h // f.shape[2] for f in feats]

    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """(B, C, H, W) -> the feature maps, shallow first: taps, then ``out_indices``."""
        self._taps = []
        if self.features is None:
            feats = self.model.forward_intermediates(images, indices=self.out_indices,
                                                     norm=self.norm_features, output_fmt='NCHW',
                                                     intermediates_only=True)
        else:
            feats = self.features(images)
        taps, self._taps = self._taps, []
        return tuple(taps) + tuple(feats)
