"""Checkpoints in and out: others' weights into a mimlab checkpoint, mimlab's encoder out."""
import math
import os.path as osp
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.runner import CheckpointLoader

from mimlab.engine.checkpoint import install_checkpoint_loader
from mimlab.models.backbones.vision_transformer import ARCH_SETTINGS
from mimlab.models.utils.state_dict import checkpoint_state_dict
from .converters import (CONVERTERS, MODEL_CONVERTERS, mimlab_to_cae, mimlab_to_cae_model,
                         mimlab_to_mae_model, mimlab_to_mmpretrain, mimlab_to_mmpretrain_cae,
                         mimlab_to_mmpretrain_mae_model, mimlab_to_timm)

LAYOUTS = ('mimlab', 'timm', 'mmpretrain', 'cae')
# Whole pretraining models out of mimlab: (method, layout) -> (converter, payload key). MAE and
# MFF go to mmpretrain's MAE/MFF or official MAE (MAE only: it has no fusion), CAE to mmpretrain's
# or official CAE.
MODEL_EXPORTS = {
    ('mae', 'mmpretrain'): (mimlab_to_mmpretrain_mae_model, 'state_dict'),
    ('mae', 'mae'): (mimlab_to_mae_model, 'model'),
    ('cae', 'mmpretrain'): (mimlab_to_mmpretrain_cae, 'state_dict'),
    ('cae', 'cae'): (mimlab_to_cae_model, 'model'),
}
MODEL_LAYOUTS = ('mmpretrain', 'mae', 'cae')


def backbone_state_dict(state_dict: Dict[str, torch.Tensor], prefix: str = 'backbone.'
                        ) -> Dict[str, torch.Tensor]:
    """The encoder's entries of a model's state dict, ``prefix`` removed."""
    out = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    if not out:
        raise KeyError(f'no key starts with {prefix!r} (keys: {sorted(state_dict)[:4]} ...): '
                       'is it a mimlab checkpoint?')
    return out


def export_backbone(checkpoint: str, out: Optional[str] = None, layout: str = 'mimlab',
                    prefix: str = 'backbone.') -> Dict[str, torch.Tensor]:
    """The encoder of ``checkpoint`` (loaded safely) in ``layout``, saved to ``out`` if given.

    Layouts: 'mimlab' (``{'state_dict': encoder keys}``, for ``init_cfg=dict(type='Pretrained',
    checkpoint=out)`` with no prefix), 'timm' (a plain dict that timm's ``VisionTransformer``
    loads with ``load_state_dict``), 'mmpretrain' (``backbone.layers...``) and 'cae' (the official
    CAE ``encoder.`` keys). Returns the exported tensors.
    """
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}')
    install_checkpoint_loader()
    loaded = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    encoder = backbone_state_dict(checkpoint_state_dict(loaded), prefix)
    if layout == 'timm':
        exported, payload = mimlab_to_timm(encoder), None
    elif layout == 'mmpretrain':
        has_qv = any('.ls1.' in k for k in encoder)  # BEiT/CAE-style encoders
        exported = mimlab_to_mmpretrain(encoder, qv_bias=has_qv)
        payload = dict(state_dict=exported)
    elif layout == 'cae':
        exported = mimlab_to_cae(encoder)
        payload = dict(model=exported)
    else:
        exported = encoder
        payload = dict(state_dict=exported, meta=dict(exported_from=osp.abspath(checkpoint)))
    if out is not None:
        torch.save(exported if payload is None else payload, out)
    return exported


def timm_arguments(checkpoint: str, prefix: str = 'backbone.') -> Dict[str, object]:
    """The arguments of timm's ``VisionTransformer`` that rebuild the encoder of ``checkpoint``
    (exported with ``layout='timm'``): sizes read from the weights, the number of heads (which
    the weights do not hold) and a non-square image size from the config the checkpoint was
    trained with; ``num_classes=0`` (features, no classifier).

    Raises:
        KeyError: the number of heads is not known (no config in the checkpoint's meta data).
    """
    install_checkpoint_loader()
    loaded = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    encoder = backbone_state_dict(checkpoint_state_dict(loaded), prefix)
    proj = encoder['patch_embed.proj.weight']  # (D, C, p, p)
    embed_dim, in_chans, patch_size = proj.shape[0], proj.shape[1], proj.shape[-1]
    class_token = 'cls_token' in encoder
    backbone = _trained_backbone(loaded, prefix)
    arch = backbone.get('arch', 'base')
    arch = ARCH_SETTINGS.get(arch, {}) if isinstance(arch, str) else arch
    if 'num_heads' not in arch:
        raise KeyError(f'{checkpoint}: the number of heads is not in the weights and the '
                       'checkpoint holds no config to read it from')
    tokens = encoder['pos_embed'].shape[1] - int(class_token)
    side = int(math.isqrt(tokens))
    img_size = backbone.get('img_size', side * patch_size) if side * side != tokens \
        else side * patch_size
    args = dict(img_size=img_size, patch_size=int(patch_size), in_chans=int(in_chans),
                embed_dim=int(embed_dim),
                depth=1 + max(int(k.split('.')[1]) for k in encoder if k.startswith('blocks.')),
                num_heads=int(arch['num_heads']),
                mlp_ratio=encoder['blocks.0.mlp.fc1.weight'].shape[0] / embed_dim,
                qkv_bias='blocks.0.attn.qkv.bias' in encoder, class_token=class_token,
                num_classes=0)
    if 'blocks.0.ls1.gamma' in encoder:
        args['init_values'] = 1e-5  # LayerScale is built (its value is loaded)
    return args


def _trained_backbone(loaded: dict, prefix: str) -> dict:
    """The backbone config a mmengine checkpoint was trained with (from its meta data), or {}."""
    try:
        model = Config.fromstring((loaded.get('meta') or {})['cfg'], '.py').model
    except Exception:  # no config text in the checkpoint, or one this mmengine cannot read
        return {}
    for part in prefix.strip('.').split('.'):
        model = model.get(part) if isinstance(model, dict) else None
    return model if isinstance(model, dict) else {}


def whole_model_method(state_dict: Dict[str, torch.Tensor]) -> str:
    """'cae' for a mimlab CAE (a latent regressor), 'mae' for MAE and MFF (an MAE decoder)."""
    if any(k.startswith('neck.blocks.') for k in state_dict):
        return 'cae'
    if any(k.startswith('neck.decoder_blocks.') for k in state_dict):
        return 'mae'
    raise ValueError('no MAE decoder (neck.decoder_blocks.*) or CAE regressor (neck.blocks.*): '
                     'not a whole mimlab MAE, MFF or CAE pretraining checkpoint')


def export_model(checkpoint: str, out: Optional[str] = None, layout: str = 'mmpretrain'
                 ) -> Dict[str, torch.Tensor]:
    """A whole mimlab pretraining checkpoint in a reference's layout, saved to ``out`` if given:

    - MAE and MFF (linear projections, weighted fusion): 'mmpretrain' (1.2.0's ``MAE``/``MFF``,
      ``state_dict``) or 'mae' (official MAE's ``MaskedAutoencoderViT``, ``model``; MAE only);
    - CAE (momentum 0, regressor style 'cae'): 'mmpretrain' (``CAE``, the DALL-E tokenizer as
      ``target_generator.``, ``state_dict``) or 'cae' (official CAE, no tokenizer, ``model``).

    Returns the exported tensors."""
    if layout not in MODEL_LAYOUTS:
        raise ValueError(f'a whole model exports to one of {MODEL_LAYOUTS}, got {layout!r}')
    install_checkpoint_loader()
    state_dict = checkpoint_state_dict(CheckpointLoader.load_checkpoint(checkpoint, 'cpu'))
    try:
        method = whole_model_method(state_dict)
    except ValueError as err:
        raise ValueError(f'{checkpoint}: {err}') from err
    layouts = sorted(lay for m, lay in MODEL_EXPORTS if m == method)
    if (method, layout) not in MODEL_EXPORTS:
        raise ValueError(f'{checkpoint} is a whole {method.upper()} model: it exports to '
                         f'--layout {" or ".join(layouts)}, not {layout!r}')
    convert, key = MODEL_EXPORTS[(method, layout)]
    exported = convert(state_dict)
    if out is not None:
        torch.save({key: exported}, out)
    return exported


def convert_checkpoint(checkpoint: str, out: str, source: str, whole: bool = False, **options
                       ) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Weights published in another layout (``source``: 'mae'/'timm', 'cae', 'mmpretrain'; see
    :mod:`mimlab.apis.converters`) into a mimlab checkpoint at ``out``: the encoder under
    ``backbone.``, as a pretraining run writes it, so the same
    ``init_cfg=dict(type='Pretrained', checkpoint=out, prefix='backbone.')`` loads it. With
    ``whole`` (sources in ``MODEL_CONVERTERS``: official MAE and CAE, mmpretrain MAE/MFF/CAE) the
    whole pretraining model (encoder, MFF fusion, decoder; CAE's regressor, decoder and head) in
    the mimlab algorithm's keys, to continue pretraining from (``load_from=out``) or to look at
    its reconstructions. Returns the converted tensors (the encoder's without the prefix, or the
    whole model's) and the source keys that were dropped."""
    converters = MODEL_CONVERTERS if whole else CONVERTERS
    if source not in converters:
        raise ValueError(f'source must be one of {sorted(converters)}'
                         f'{" for a whole model" if whole else ""}, got {source!r}')
    install_checkpoint_loader()
    loaded = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    converted, dropped = converters[source](checkpoint_state_dict(loaded), **options)
    if whole:
        if not any(k.startswith('neck.') for k in converted):
            raise ValueError(f'{checkpoint}: no decoder or regressor key of the {source} layout '
                             'was found (an encoder-only checkpoint? convert it without --whole)')
        state_dict = converted
    else:
        if not converted:
            raise ValueError(f'{checkpoint}: no encoder key in the {source} layout was found')
        state_dict = {f'backbone.{k}': v for k, v in converted.items()}
    torch.save(dict(state_dict=state_dict,
                    meta=dict(converted_from=osp.abspath(checkpoint), source_layout=source,
                              whole_model=whole)), out)
    return converted, dropped
