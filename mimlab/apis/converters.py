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
    dropped). Fine-tuned CAE checkpoints have the same blocks without the ``encoder.`` prefix.
    The head count is not in the checkpoint (:func:`head_count_note`): official ViT-T/S have 12."""
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


def head_count_note(source: str) -> str:
    """What a converted checkpoint cannot say: its attention head count. No layout stores it
    and the qkv shapes do not depend on it, so a checkpoint loads strictly into an encoder with
    the wrong count and computes another function."""
    note = ('the head count is not stored in the checkpoint (qkv shapes do not depend on it): '
            "build the encoder with the source model's num_heads")
    if source == 'cae':
        note += (" (official CAE ViT-T/16 and ViT-S/16 have 12 heads, not DeiT's 3/6: "
                 "arch='cae-tiny'/'cae-small'; ViT-B 12, ViT-L 16)")
    return note


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


# Whole CAE pretraining models (encoder, regressor, decoder, target head) -------------------------
# mimlab's CAE: ``backbone.`` (the encoder, as above), ``neck.`` (LatentContextualRegressor),
# ``decoder.`` (CAEPretrainDecoder), ``head.fc`` (the token classifier) and ``head.tokenizer.``
# (the frozen DALL-E encoder, the same key names as mmpretrain's ``target_generator.``). Regressor
# blocks: '{r}' is the reference's block prefix, mimlab's is ``neck.blocks.{i}``.
_REGRESSOR_BLOCK = (
    ('{r}.norm1_q{n}.{p}', 'neck.blocks.{i}.norm_q.{p}'),
    ('{r}.norm1_k{n}.{p}', 'neck.blocks.{i}.norm_k.{p}'),
    ('{r}.norm1_v{n}.{p}', 'neck.blocks.{i}.norm_v.{p}'),
    ('{r}.norm2_cross.{p}', 'neck.blocks.{i}.norm2.{p}'),
    ('{r}.cross_attn.q.weight', 'neck.blocks.{i}.attn.q.weight'),
    ('{r}.cross_attn.k.weight', 'neck.blocks.{i}.attn.k.weight'),
    ('{r}.cross_attn.v.weight', 'neck.blocks.{i}.attn.v.weight'),
    ('{r}.cross_attn.q_bias', 'neck.blocks.{i}.attn.q.bias'),
    ('{r}.cross_attn.v_bias', 'neck.blocks.{i}.attn.v.bias'),
    ('{r}.cross_attn.proj.{p}', 'neck.blocks.{i}.attn.proj.{p}'),
    ('{r}.{mlp1}.{p}', 'neck.blocks.{i}.mlp.fc1.{p}'),
    ('{r}.{mlp2}.{p}', 'neck.blocks.{i}.mlp.fc2.{p}'),
    ('{r}.gamma_1_cross', 'neck.blocks.{i}.ls1.gamma'),
    ('{r}.gamma_2_cross', 'neck.blocks.{i}.ls2.gamma'),
)


def _regressor_rules(block: str, norm_suffix: str, mlp1: str, mlp2: str
                     ) -> List[Tuple[str, str]]:
    return [(src.replace('{r}', block).replace('{n}', norm_suffix)
             .replace('{mlp1}', mlp1).replace('{mlp2}', mlp2), dst)
            for src, dst in _REGRESSOR_BLOCK]


def _decoder_rules(block_rules: Sequence[Tuple[str, str]], src_strip: str, src_prefix: str
                   ) -> List[Tuple[str, str]]:
    """The encoder's block rules for the decoder's blocks (the same BEiT/timm block): the source
    prefix ``src_strip`` becomes ``src_prefix``, mimlab's ``blocks.`` becomes
    ``decoder.blocks.``."""
    return [(src_prefix + src[len(src_strip):], 'decoder.' + dst) for src, dst in block_rules]


MMPRETRAIN_CAE_RULES = (
    [(src, 'backbone.' + dst) for src, dst in MMPRETRAIN_RULES]
    + _regressor_rules('neck.regressors.{i}', '_cross', 'ffn.layers.0.0', 'ffn.layers.1')
    + _decoder_rules(MMPRETRAIN_RULES[3:-1], 'backbone.layers.', 'neck.decoders.')
    + [('neck.mask_token', 'neck.mask_token'),
       ('neck.norm_regressor.{p}', 'neck.norm.{p}'),
       ('neck.norm_decoder.{p}', 'decoder.norm.{p}'),
       ('neck.head.{p}', 'head.fc.{p}')]
)
OFFICIAL_CAE_RULES = (
    [(src, 'backbone.' + dst) for src, dst in CAE_RULES]
    + _regressor_rules('regresser.regressor_blocks.{i}', '', 'mlp_cross.fc1', 'mlp_cross.fc2')
    + _decoder_rules(CAE_RULES[3:-1], 'encoder.blocks.', 'decoder.decoder_blocks.')
    + [('mask_token', 'neck.mask_token'),
       ('regresser.norm.{p}', 'neck.norm.{p}'),
       ('decoder.norm.{p}', 'decoder.norm.{p}'),
       ('decoder.head.{p}', 'head.fc.{p}')]
)


def _block_key(src_prefix: str, dst_prefix: str):
    return lambda block: dst_prefix + block[len(src_prefix):]


def _check_teacher(state_dict: Mapping[str, torch.Tensor], teacher: str, student: str,
                   layout: str) -> None:
    """Official CAE keeps a copy of the encoder for the alignment target and, with momentum 0
    (the paper), points it at the encoder's own tensors after every step, so a checkpoint holds
    two equal copies. mimlab keeps no copy then, so a differing one (a momentum teacher) would be
    silently replaced: refuse."""
    for key, value in state_dict.items():
        if key.startswith(teacher):
            mine = state_dict.get(student + key[len(teacher):])
            if mine is None or mine.shape != value.shape or not torch.equal(mine, value):
                raise ValueError(
                    f'{layout}: the alignment encoder ({key}) differs from the encoder: a '
                    'momentum teacher; mimlab converts only momentum-0 CAE models '
                    '(model.momentum=0), whose teacher is the encoder')


def mmpretrain_cae_model_to_mimlab(state_dict: Mapping[str, torch.Tensor]) -> Converted:
    """A whole mmpretrain 1.2.0 ``CAE`` (``CAEPretrainViT`` + ``CAENeck`` + DALL-E
    ``target_generator``) into mimlab's ``CAE`` keys (``backbone.``, ``neck.``, ``decoder.``,
    ``head.fc``, ``head.tokenizer.``). The ``teacher.`` copy is dropped: with mmpretrain's
    momentum 0 it is the encoder one optimizer step behind (``momentum_update`` copies the encoder
    after the teacher's forward, then the step moves the encoder), where mimlab's momentum-0 CAE
    uses the live encoder. A momentum > 0 teacher cannot be told apart from that and is dropped
    as well (mimlab's ``momentum`` > 0 starts its teacher from the encoder)."""
    out, dropped = _rename(state_dict, MMPRETRAIN_CAE_RULES)
    used = _merge_qv_bias(out, state_dict, 'backbone.layers.',
                          _block_key('backbone.layers.', 'backbone.blocks.'))
    used += _merge_qv_bias(out, state_dict, 'neck.decoders.',
                           _block_key('neck.decoders.', 'decoder.blocks.'))
    for key, value in state_dict.items():
        if key.startswith('target_generator.'):
            out['head.tokenizer.' + key[len('target_generator.'):]] = value
            used.append(key)
    used += [k for k in state_dict if k.startswith('teacher.')]
    return out, [k for k in dropped if k not in set(used)]


def _mimlab_cae_to(state_dict: Mapping[str, torch.Tensor], rules: Sequence[Tuple[str, str]],
                   encoder: str, decoder: str, layout: str) -> StateDict:
    """mimlab's whole ``CAE`` renamed by ``rules`` (reversed), with the encoder's and decoder's qkv
    biases split back into the reference's q/v biases under the ``encoder``/``decoder`` block
    prefixes; the tokenizer and teacher are left to the caller."""
    plain = {k: v for k, v in state_dict.items()
             if not (k.endswith('.attn.qkv.bias') or k.startswith(('head.tokenizer.', 'teacher.')))}
    out, dropped = _rename(plain, _reverse(rules))
    _check_nothing_dropped(dropped, layout)
    for ours, theirs in (('backbone.blocks.', encoder), ('decoder.blocks.', decoder)):
        part = ours.split('.')[0] + '.'
        _split_qkv_bias({k: v for k, v in state_dict.items() if k.startswith(part)}, out,
                        _block_key(ours, theirs))
    return out


def mimlab_to_mmpretrain_cae(state_dict: Mapping[str, torch.Tensor]) -> StateDict:
    """mimlab's whole ``CAE`` (momentum 0, DALL-E tokenizer) into mmpretrain's ``CAE`` layout;
    the ``teacher.`` is the encoder, as mmpretrain's ``init_weights`` makes it."""
    out = _mimlab_cae_to(state_dict, MMPRETRAIN_CAE_RULES, 'backbone.layers.', 'neck.decoders.',
                         'mmpretrain CAE')
    out.update({'teacher.' + k[len('backbone.'):]: v.clone() for k, v in out.items()
                if k.startswith('backbone.')})
    out.update({'target_generator.' + k[len('head.tokenizer.'):]: v
                for k, v in state_dict.items() if k.startswith('head.tokenizer.')})
    return out


def cae_model_to_mimlab(state_dict: Mapping[str, torch.Tensor]) -> Converted:
    """A whole official CAE (Atten4Vis/CAE ``ContextAutoencoderViT``, the v1 model with a
    decoder) pretraining checkpoint into mimlab's ``CAE`` keys. The ``alignment_encoder.`` copy
    must equal the encoder and ``rd_pos_embed`` (the regressor's and decoder's positions) the
    encoder's ``pos_embed`` (both hold in the official model, which builds them so); both are
    dropped. The tokenizer is not in these checkpoints: load it into ``head.tokenizer``."""
    _check_teacher(state_dict, 'alignment_encoder.', 'encoder.', 'official CAE')
    if 'rd_pos_embed' in state_dict and not torch.equal(state_dict['rd_pos_embed'],
                                                        state_dict.get('encoder.pos_embed')):
        raise ValueError('official CAE: rd_pos_embed differs from encoder.pos_embed; mimlab\'s '
                         'regressor and decoder use the encoder\'s positions')
    if 'encoder_to_regresser.weight' in state_dict:
        raise ValueError('official CAE: a regressor narrower than the encoder '
                         '(encoder_to_regresser) has no place in mimlab\'s CAE')
    out, dropped = _rename(state_dict, OFFICIAL_CAE_RULES)
    used = _merge_qv_bias(out, state_dict, 'encoder.blocks.',
                          _block_key('encoder.blocks.', 'backbone.blocks.'))
    used += _merge_qv_bias(out, state_dict, 'decoder.decoder_blocks.',
                           _block_key('decoder.decoder_blocks.', 'decoder.blocks.'))
    used += [k for k in state_dict if k.startswith('alignment_encoder.') or k == 'rd_pos_embed']
    return out, [k for k in dropped if k not in set(used)]


def mimlab_to_cae_model(state_dict: Mapping[str, torch.Tensor]) -> StateDict:
    """mimlab's whole ``CAE`` into the official CAE layout (the tokenizer is left out, as in the
    official checkpoints); ``alignment_encoder.`` and ``rd_pos_embed`` are the encoder's."""
    out = _mimlab_cae_to(state_dict, OFFICIAL_CAE_RULES, 'encoder.blocks.',
                         'decoder.decoder_blocks.', 'official CAE')
    out.update({'alignment_encoder.' + k[len('encoder.'):]: v.clone() for k, v in out.items()
                if k.startswith('encoder.')})
    out['rd_pos_embed'] = out['encoder.pos_embed'].clone()
    return out


def mmpretrain_model_to_mimlab(state_dict: Mapping[str, torch.Tensor]) -> Converted:
    """A whole mmpretrain 1.2.0 pretraining model into mimlab's keys: a ``CAE`` (its
    ``neck.regressors.``) through :func:`mmpretrain_cae_model_to_mimlab`, an ``MAE``/``MFF``
    through :func:`mmpretrain_mae_model_to_mimlab`."""
    if any(k.startswith('neck.regressors.') for k in state_dict):
        return mmpretrain_cae_model_to_mimlab(state_dict)
    return mmpretrain_mae_model_to_mimlab(state_dict)


# Whole pretraining models, by source (``convert_checkpoint(..., whole=True)``); the result is a
# mimlab algorithm's state dict (all prefixes).
MODEL_CONVERTERS = {
    'mae': mae_model_to_mimlab,  # official MAE (decoder included)
    'cae': cae_model_to_mimlab,  # official CAE (regressor, decoder, head)
    'mmpretrain': mmpretrain_model_to_mimlab,  # MAE, MFF and CAE
}
