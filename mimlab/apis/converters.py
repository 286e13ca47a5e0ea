"""Weights published by others into mimlab's encoder keys, and mimlab's encoder out to timm's.

mimlab's encoder (:class:`~mimlab.models.backbones.VisionTransformer`) uses timm's parameter names,
so the official MAE checkpoints and timm ViTs need only their non-encoder keys dropped. The
others are renamed by a table of patterns that works in both directions, plus two rewrites:

- BEiT-style attention (official CAE, mmpretrain CAE/BEiT) has ``q_bias`` and ``v_bias`` and no
  key bias; mimlab's qkv has one bias ``cat(q_bias, 0, v_bias)``. Going back, a key bias is
  dropped, which changes no output: it adds ``q . b_k`` to all logits of a query alike, and the
  softmax ignores that.
- BEiT-style layer scale ``gamma_1``/``gamma_2`` is timm's ``ls1.gamma``/``ls2.gamma``.

Every function takes and returns plain ``{key: tensor}`` dicts (the encoder only, mimlab's keys
without the ``backbone.`` prefix) and lists what it dropped, so a caller can say so.
"""
import re
from typing import Dict, List, Mapping, Sequence, Tuple

import torch

StateDict = Dict[str, torch.Tensor]
Converted = Tuple[StateDict, List[str]]

# mimlab's encoder keys (timm's names); anything else in a timm/MAE checkpoint is dropped.
ENCODER_KEYS = re.compile(r'^(cls_token|pos_embed|patch_embed\.|blocks\.|norm\.)')

# (source pattern, mimlab pattern); '{i}' is a block index.
MMPRETRAIN_RULES = (
    ('backbone.cls_token', 'cls_token'),
    ('backbone.pos_embed', 'pos_embed'),
    ('backbone.patch_embed.projection.{p}', 'patch_embed.proj.{p}'),
    ('backbone.layers.{i}.ln1.{p}', 'blocks.{i}.norm1.{p}'),
    ('backbone.layers.{i}.ln2.{p}', 'blocks.{i}.norm2.{p}'),
    ('backbone.layers.{i}.attn.qkv.{p}', 'blocks.{i}.attn.qkv.{p}'),
    ('backbone.layers.{i}.attn.proj.{p}', 'blocks.{i}.attn.proj.{p}'),
    ('backbone.layers.{i}.attn.relative_position_bias_table',
     'blocks.{i}.attn.relative_position_bias_table'),
    ('backbone.layers.{i}.ffn.layers.0.0.{p}', 'blocks.{i}.mlp.fc1.{p}'),
    ('backbone.layers.{i}.ffn.layers.1.{p}', 'blocks.{i}.mlp.fc2.{p}'),
    ('backbone.layers.{i}.gamma_1', 'blocks.{i}.ls1.gamma'),
    ('backbone.layers.{i}.gamma_2', 'blocks.{i}.ls2.gamma'),
    ('backbone.ln1.{p}', 'norm.{p}'),
)
CAE_RULES = (
    ('encoder.cls_token', 'cls_token'),
    ('encoder.pos_embed', 'pos_embed'),
    ('encoder.patch_embed.proj.{p}', 'patch_embed.proj.{p}'),
    ('encoder.blocks.{i}.norm1.{p}', 'blocks.{i}.norm1.{p}'),
    ('encoder.blocks.{i}.norm2.{p}', 'blocks.{i}.norm2.{p}'),
    ('encoder.blocks.{i}.attn.qkv.weight', 'blocks.{i}.attn.qkv.weight'),
    ('encoder.blocks.{i}.attn.proj.{p}', 'blocks.{i}.attn.proj.{p}'),
    ('encoder.blocks.{i}.attn.relative_position_bias_table',
     'blocks.{i}.attn.relative_position_bias_table'),
    ('encoder.blocks.{i}.mlp.fc1.{p}', 'blocks.{i}.mlp.fc1.{p}'),
    ('encoder.blocks.{i}.mlp.fc2.{p}', 'blocks.{i}.mlp.fc2.{p}'),
    ('encoder.blocks.{i}.gamma_1', 'blocks.{i}.ls1.gamma'),
    ('encoder.blocks.{i}.gamma_2', 'blocks.{i}.ls2.gamma'),
    ('encoder.norm.{p}', 'norm.{p}'),
)
_QV_BIAS = re.compile(r'^(?P<block>.*)\.(q_bias|v_bias)$')


def _compile(pattern: str) -> re.Pattern:
    regex = re.escape(pattern).replace(r'\{i\}', r'(?P<i>\d+)').replace(r'\{p\}', r'(?P<p>\w+)')
    return re.compile(f'^{regex}$')


def _rename(state_dict: Mapping[str, torch.Tensor], rules: Sequence[Tuple[str, str]]
            ) -> Converted:
    compiled = [(_compile(src), dst) for src, dst in rules]
    out, dropped = {}, []
    for key, value in state_dict.items():
        for regex, template in compiled:
            found = regex.match(key)
            if found:
                out[template.format(**found.groupdict())] = value
                break
        else:
            dropped.append(key)
    return out, dropped


def _reverse(rules: Sequence[Tuple[str, str]]) -> List[Tuple[str, str]]:
    return [(dst, src) for src, dst in rules]


def _merge_qv_bias(state_dict: StateDict, source: Mapping[str, torch.Tensor], prefix: str,
                   block_key) -> List[str]:
    """``q_bias``/``v_bias`` of each source block under ``prefix`` -> mimlab's
    ``attn.qkv.bias``; returns the source keys used."""
    used = []
    for key, q_bias in source.items():
        found = _QV_BIAS.match(key)
        if not (found and key.startswith(prefix) and key.endswith('q_bias')):
            continue
        block = found.group('block')
        v_bias = source[f'{block}.v_bias']
        state_dict[f'{block_key(block)}.qkv.bias'] = torch.cat(
            [q_bias, torch.zeros_like(q_bias), v_bias])
        used += [key, f'{block}.v_bias']
    return used


def _split_qkv_bias(mimlab: Mapping[str, torch.Tensor], out: StateDict, block_key) -> None:
    """mimlab's ``attn.qkv.bias`` -> ``q_bias``/``v_bias`` (the key bias cannot be kept and
    changes no output; see the module docstring)."""
    for key, bias in mimlab.items():
        if key.endswith('.attn.qkv.bias'):
            q, _, v = bias.chunk(3)
            prefix = block_key(key[:-len('.qkv.bias')])
            out[f'{prefix}.q_bias'] = q.clone()
            out[f'{prefix}.v_bias'] = v.clone()


def timm_to_mimlab(state_dict: Mapping[str, torch.Tensor], no_embed_class: bool = False
                   ) -> Converted:
    """Official MAE (pretraining or fine-tuned) and timm ViT weights: drop the decoder
    (``decoder_*``, ``mask_token``), classifier (``head``, ``fc_norm``) and anything else that is
    not the encoder. With ``no_embed_class`` (timm models built with ``no_embed_class=True``,
    whose position embedding has no row for the class token) a zero row is put first, the
    class token's position in mimlab."""
    out = {k: v for k, v in state_dict.items() if ENCODER_KEYS.match(k)}
    dropped = [k for k in state_dict if k not in out]
    if no_embed_class and 'pos_embed' in out:
        pos = out['pos_embed']
        out['pos_embed'] = torch.cat([torch.zeros_like(pos[:, :1]), pos], dim=1)
    return out, dropped


def mimlab_to_timm(state_dict: Mapping[str, torch.Tensor]) -> StateDict:
    """mimlab's encoder keys are timm's ``VisionTransformer`` keys; relative position bias has no
    place there."""
    extra = [k for k in state_dict if 'relative_position' in k]
    if extra:
        raise ValueError("timm's VisionTransformer has no relative position bias, found "
                         f'{extra[:2]}: export such an encoder in mimlab layout')
    return {k: v for k, v in state_dict.items() if ENCODER_KEYS.match(k)}


def cae_to_mimlab(state_dict: Mapping[str, torch.Tensor]) -> Converted:
    """Official CAE (lxtGH/CAE, PaddlePaddle/VIMER) pretraining checkpoints: the ``encoder.``
    part (the momentum ``teacher``, the regressor/decoder ``pretext_neck`` and the rest are
    dropped). Fine-tuned CAE checkpoints have the same blocks without the ``encoder.`` prefix."""
    if not any(k.startswith('encoder.') for k in state_dict):
        state_dict = {f'encoder.{k}': v for k, v in state_dict.items()}
    out, dropped = _rename(state_dict, CAE_RULES)
    used = _merge_qv_bias(out, state_dict, 'encoder.blocks.',
                          lambda block: block[len('encoder.'):])
    return out, [k for k in dropped if k not in set(used)]


def mimlab_to_cae(state_dict: Mapping[str, torch.Tensor]) -> StateDict:
    """mimlab's encoder into the official CAE ``encoder.`` layout (the inverse of
    :func:`cae_to_mimlab`)."""
    plain = {k: v for k, v in state_dict.items() if not k.endswith('.attn.qkv.bias')}
    out, dropped = _rename(plain, _reverse(CAE_RULES))
    _check_nothing_dropped(dropped, 'CAE')
    _split_qkv_bias(state_dict, out, lambda block: f'encoder.{block}')
    return out


def mmpretrain_to_mimlab(state_dict: Mapping[str, torch.Tensor]) -> Converted:
    """mmpretrain MAE (``MAEViT``), MFF (``MFFViT``: its ``proj_layers``/``proj_weights``
    belong to pretraining and are dropped) and CAE/BEiT (``CAEPretrainViT``, qv-bias and layer
    scale) checkpoints: the ``backbone.`` part; the ``teacher``, neck, head and target generator
    are dropped."""
    out, dropped = _rename(state_dict, MMPRETRAIN_RULES)
    used = _merge_qv_bias(out, state_dict, 'backbone.layers.',
                          lambda block: block[len('backbone.'):].replace('layers.', 'blocks.', 1))
    return out, [k for k in dropped if k not in set(used)]


def mimlab_to_mmpretrain(state_dict: Mapping[str, torch.Tensor], qv_bias: bool = False
                         ) -> StateDict:
    """mimlab's encoder into mmpretrain's ``backbone.`` layout: ``qv_bias=False`` for
    ``VisionTransformer``/``MAEViT``/``MFFViT`` (one qkv bias), True for ``BEiTViT``/
    ``CAEPretrainViT`` (q_bias, v_bias)."""
    plain = {k: v for k, v in state_dict.items()
             if not (qv_bias and k.endswith('.attn.qkv.bias'))}
    out, dropped = _rename(plain, _reverse(MMPRETRAIN_RULES))
    _check_nothing_dropped(dropped, 'mmpretrain')
    if qv_bias:
        _split_qkv_bias(state_dict, out,
                        lambda block: 'backbone.' + block.replace('blocks.', 'layers.', 1))
    return out


def _check_nothing_dropped(dropped: List[str], layout: str) -> None:
    if dropped:
        raise ValueError(f'{len(dropped)} mimlab keys have no place in the {layout} layout: '
                         f'{dropped[:4]}')


CONVERTERS = {
    'timm': timm_to_mimlab,  # also official MAE
    'mae': timm_to_mimlab,
    'cae': cae_to_mimlab,
    'mmpretrain': mmpretrain_to_mimlab,
}


# Whole MAE / MFF pretraining models (encoder, fusion, decoder) ------------------------------------
# mimlab's MAE: ``backbone.`` (the encoder, as above), ``neck.`` (MAEPretrainDecoder, whose keys are
# official MAE's decoder keys: timm blocks) and, for MFF, ``fusion_neck.`` (MultiLevelFusionNeck).
# The pixel head has no parameters (nor does either reference's).
MAE_DECODER_KEYS = re.compile(r'^(mask_token$|decoder_)')
MMPRETRAIN_MAE_MODEL_RULES = (
    [(src, 'backbone.' + dst) for src, dst in MMPRETRAIN_RULES]
    + [('neck.mask_token', 'neck.mask_token'),
       ('neck.decoder_pos_embed', 'neck.decoder_pos_embed'),
       ('neck.decoder_embed.{p}', 'neck.decoder_embed.{p}'),
       ('neck.decoder_blocks.{i}.ln1.{p}', 'neck.decoder_blocks.{i}.norm1.{p}'),
       ('neck.decoder_blocks.{i}.ln2.{p}', 'neck.decoder_blocks.{i}.norm2.{p}'),
       ('neck.decoder_blocks.{i}.attn.qkv.{p}', 'neck.decoder_blocks.{i}.attn.qkv.{p}'),
       ('neck.decoder_blocks.{i}.attn.proj.{p}', 'neck.decoder_blocks.{i}.attn.proj.{p}'),
       ('neck.decoder_blocks.{i}.ffn.layers.0.0.{p}', 'neck.decoder_blocks.{i}.mlp.fc1.{p}'),
       ('neck.decoder_blocks.{i}.ffn.layers.1.{p}', 'neck.decoder_blocks.{i}.mlp.fc2.{p}'),
       ('neck.ln1.{p}', 'neck.decoder_norm.{p}'),
       ('neck.decoder_pred.{p}', 'neck.decoder_pred.{p}'),
       # MFFViT: a linear projection per extra fused layer (the last layer has none)
       ('backbone.proj_layers.{i}.{p}', 'fusion_neck.projections.{i}.{p}')]
)
# MFFViT keeps its fusion logits as (n, 1, 1, 1), mimlab's neck as (n,); softmax over the same n.
_MMPRETRAIN_FUSION = ('backbone.proj_weights', 'fusion_neck.fusion_logits')


def mae_model_to_mimlab(state_dict: Mapping[str, torch.Tensor]) -> Converted:
    """A whole official MAE pretraining model (facebookresearch/mae ``MaskedAutoencoderViT``,
    e.g. the visualisation checkpoints, which keep the decoder) into mimlab's ``MAE`` keys: the
    encoder under ``backbone.``, the decoder (``decoder_*``, ``mask_token``) under ``neck.``.
    Build the mimlab model with the checkpoint's decoder sizes (embed_dim, depth, num_heads)."""
    encoder, dropped = timm_to_mimlab(state_dict)
    out = {f'backbone.{k}': v for k, v in encoder.items()}
    out.update({f'neck.{k}': state_dict[k] for k in dropped if MAE_DECODER_KEYS.match(k)})
    return out, [k for k in dropped if not MAE_DECODER_KEYS.match(k)]


def mimlab_to_mae_model(state_dict: Mapping[str, torch.Tensor]) -> StateDict:
    """mimlab's whole ``MAE`` into official MAE's ``MaskedAutoencoderViT`` keys (the inverse of
    :func:`mae_model_to_mimlab`). MFF's fusion neck and a PCA target have no place there."""
    out, extra = {}, []
    for key, value in state_dict.items():
        part, _, rest = key.partition('.')
        if part == 'backbone' and ENCODER_KEYS.match(rest):
            out[rest] = value
        elif part == 'neck' and MAE_DECODER_KEYS.match(rest):
            out[rest] = value
        else:
            extra.append(key)
    _check_nothing_dropped(extra, 'official MAE')
    return out


def mmpretrain_mae_model_to_mimlab(state_dict: Mapping[str, torch.Tensor]) -> Converted:
    """A whole mmpretrain 1.2.0 ``MAE`` (``MAEViT`` + ``MAEPretrainDecoder`` +
    ``MAEPretrainHead``) or ``MFF`` (``MFFViT``, whose ``proj_layers``/``proj_weights`` become
    mimlab's ``fusion_neck.``) into mimlab's ``MAE`` keys. For MFF, mimlab's
    ``fusion_neck.layers`` are MFFViT's ``out_indices`` without the last block (which MFF always
    fuses last)."""
    plain = {k: v for k, v in state_dict.items() if k != _MMPRETRAIN_FUSION[0]}
    out, dropped = _rename(plain, MMPRETRAIN_MAE_MODEL_RULES)
    if _MMPRETRAIN_FUSION[0] in state_dict:
        out[_MMPRETRAIN_FUSION[1]] = state_dict[_MMPRETRAIN_FUSION[0]].flatten()
    return out, dropped


def mimlab_to_mmpretrain_mae_model(state_dict: Mapping[str, torch.Tensor]) -> StateDict:
    """mimlab's whole ``MAE`` (or MFF with linear projections and weighted fusion) into
    mmpretrain 1.2.0's ``MAE``/``MFF`` layout (the inverse of
    :func:`mmpretrain_mae_model_to_mimlab`)."""
    plain = {k: v for k, v in state_dict.items() if k != _MMPRETRAIN_FUSION[1]}
    out, dropped = _rename(plain, _reverse(MMPRETRAIN_MAE_MODEL_RULES))
    _check_nothing_dropped(dropped, 'mmpretrain MAE/MFF')
    if _MMPRETRAIN_FUSION[1] in state_dict:
        out[_MMPRETRAIN_FUSION[0]] = state_dict[_MMPRETRAIN_FUSION[1]].view(-1, 1, 1, 1)
    return out


# Whole pretraining models, by source (``convert_checkpoint(..., whole_model=True)``).
MODEL_CONVERTERS = {
    'mae': mae_model_to_mimlab,
    'mmpretrain': mmpretrain_mae_model_to_mimlab,  # MAE and MFF
}
