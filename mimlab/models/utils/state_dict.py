"""Loading a checkpoint into a module with a report of what did not load.

A partial load that goes unnoticed (a wrong ``prefix``, a checkpoint of another layout) leaves a
randomly initialised encoder behind a config that claims a pretrained one. :func:`load_with_report`
loads what matches and says, grouped, which keys were missing or unexpected; it refuses a load
in which nothing matched (with a hint at the likely cause) and one in which a tensor does not fit
its key's shape after resampling (naming the key and both shapes).
:func:`load_whole_model` refuses any mismatch, extra keys included (a checkpoint of the whole
model to evaluate or train on).
"""
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.runner import CheckpointLoader

# Layouts of other code bases, recognised by a telling key (their converters live in
# tools/model_converters/).
_FOREIGN_LAYOUTS = (
    (re.compile(r'(^|\.)layers\.\d+\.ln1\.'), 'an mmpretrain checkpoint',
     'tools/model_converters/convert.py mmpretrain'),
    (re.compile(r'(^|\.)blocks\.\d+\.attn\.q_bias$'), 'a BEiT/CAE-style checkpoint (q_bias/v_bias)',
     'tools/model_converters/convert.py cae'),
)


class CheckpointMismatchError(ValueError):
    """A checkpoint whose weights do not fit the model it is loaded into as a whole."""


@dataclass
class KeyDiff:
    """What a state dict and a module disagree on.

    Attributes:
        loaded: keys copied into the module.
        missing: module keys the state dict lacks (they keep their initial values).
        unexpected: state dict keys the module does not have (ignored).
    """
    loaded: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.unexpected)

    def report(self, source: str = 'checkpoint', max_groups: int = 12) -> str:
        """Several lines: counts, then each kind of key grouped by pattern (block indices
        folded, e.g. ``blocks.{0..11}.ls1.gamma``)."""
        lines = [f'{source}: loaded {len(self.loaded)} tensors, {len(self.missing)} missing, '
                 f'{len(self.unexpected)} unexpected']
        for title, keys in (('missing (left as initialised)', self.missing),
                            ('unexpected (ignored)', self.unexpected)):
            if keys:
                lines.append(f'  {title}:')
                lines.extend(f'    {g}' for g in group_keys(keys, max_groups))
        return '\n'.join(lines)


def _fold(numbers: List[List[int]]) -> List[str]:
    """Per numeric slot, the values as '3', '{0..11}' or '{1,3}'."""
    slots = []
    for values in zip(*numbers):
        lo, hi, n = min(values), max(values), len(set(values))
        if n == 1:
            slots.append(str(lo))
        elif n == hi - lo + 1:
            slots.append(f'{{{lo}..{hi}}}')
        else:
            slots.append('{' + ','.join(str(v) for v in sorted(set(values))) + '}')
    return slots


def _pattern(key: str) -> Tuple[str, List[int]]:
    parts = key.split('.')
    return ('.'.join('{}' if p.isdigit() else p for p in parts),
            [int(p) for p in parts if p.isdigit()])


def group_keys(keys: List[str], max_groups: int = 12) -> List[str]:
    """Keys grouped for reading: a numbered submodule with many keys (a whole block) as
    ``blocks.2.* (12 keys)``, identical ones together (``decoder_blocks.{0..7}.* (96 keys)``),
    the rest by pattern with numbers folded (``blocks.{0..11}.ls1.gamma (12 keys)``)."""
    by_head: Dict[str, List[str]] = {}
    for key in keys:
        parts = key.split('.')
        cut = next((i for i, p in enumerate(parts) if p.isdigit()), None)
        if cut is not None and cut + 1 < len(parts):
            by_head.setdefault('.'.join(parts[:cut + 1]), []).append('.'.join(parts[cut + 1:]))
    whole: Dict[Tuple[str, frozenset], List[List[int]]] = {}
    folded = set()
    for head, rests in by_head.items():
        if len(rests) >= 4:
            pattern, numbers = _pattern(head)
            whole.setdefault((pattern, frozenset(rests)), []).append(numbers)
            folded.update(f'{head}.{r}' for r in rests)
    out = [f'{pattern.format(*_fold(numbers))}.* ({len(numbers) * len(rests)} keys)'
           for (pattern, rests), numbers in whole.items()]
    groups: Dict[str, List[List[int]]] = {}
    for key in keys:
        if key not in folded:
            pattern, numbers = _pattern(key)
            groups.setdefault(pattern, []).append(numbers)
    for pattern, numbers in groups.items():
        text = pattern.format(*_fold(numbers))
        out.append(text if len(numbers) == 1 else f'{text} ({len(numbers)} keys)')
    if len(out) > max_groups:
        out = out[:max_groups] + [f'... and {len(out) - max_groups} more patterns']
    return out


def diagnose(state_dict: Mapping[str, torch.Tensor], module: nn.Module) -> Optional[str]:
    """A hint for a state dict that matches none of ``module``'s keys: a prefix to strip, or a
    foreign layout with the converter to use; None when nothing is recognised."""
    own = set(module.state_dict())
    prefixes = defaultdict(int)
    for key in state_dict:
        for i, ch in enumerate(key):
            if ch == '.' and key[i + 1:] in own:
                prefixes[key[:i + 1]] += 1
    if prefixes:
        best = max(prefixes, key=prefixes.get)
        return (f"its keys match the model's under the prefix {best!r} ({prefixes[best]} of "
                f"them): set init_cfg.prefix={best!r}")
    for pattern, what, tool in _FOREIGN_LAYOUTS:
        if any(pattern.search(k) for k in state_dict):
            return f'it looks like {what}: convert it first with {tool}'
    return None


def load_with_report(module: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> KeyDiff:
    """Load the entries of ``state_dict`` into ``module`` (each submodule's own
    ``_load_from_state_dict`` runs, so e.g. position embeddings are resampled) and return the
    :class:`KeyDiff` of missing and unexpected keys. Raises ValueError when no key is shared
    (with :func:`diagnose`'s hint) and when a shared key's tensor has another shape (naming the
    key and both shapes): such a tensor would be silently left as initialised."""
    state_dict = dict(state_dict)  # submodules may replace entries (resampling); keep the caller's
    own = module.state_dict()
    diff = KeyDiff()
    errors: List[str] = []

    def visit(mod: nn.Module, prefix: str) -> None:
        mod._load_from_state_dict(state_dict, prefix, {}, True, [], [], errors)
        for name, child in mod._modules.items():
            if child is not None:
                visit(child, f'{prefix}{name}.')

    fitting = {k: v for k, v in state_dict.items() if k in own}
    if not fitting:
        hint = diagnose(state_dict, module)
        raise ValueError(
            f'none of the {len(state_dict)} checkpoint keys is a key of {type(module).__name__} '
            f'(e.g. {sorted(state_dict)[:3]} vs {sorted(own)[:3]})'
            + (f'; {hint}' if hint else ''))
    # Shapes are compared after the submodules' own adjustments, so load into a copy of the
    # values first to let them run, then keep only what fits.
    visit(module, '')
    other_errors = [e for e in errors if not e.startswith('size mismatch')]
    if other_errors:
        raise ValueError('; '.join(other_errors))
    mismatched = []
    for key, value in own.items():
        if key not in state_dict:
            diff.missing.append(key)
        elif tuple(state_dict[key].shape) != tuple(value.shape):
            mismatched.append((key, tuple(state_dict[key].shape), tuple(value.shape)))
        else:
            diff.loaded.append(key)
    diff.unexpected = [k for k in state_dict if k not in own]
    if mismatched:
        # a tensor of another shape would be left as initialised: a different network from the
        # trained one (position embeddings and relative position tables were resampled above)
        shown = '; '.join(f'{k}: {list(src)} in the checkpoint, {list(dst)} in the model'
                          for k, src, dst in mismatched[:4])
        more = len(mismatched) - 4
        raise ValueError(
            f'{len(mismatched)} checkpoint tensors do not fit {type(module).__name__} '
            f'({shown}{f"; and {more} more" if more > 0 else ""}): a checkpoint of another '
            'architecture (arch, patch_size, mlp_ratio): build the model as the checkpoint\'s')
    return diff


def checkpoint_state_dict(checkpoint: Mapping) -> Dict[str, torch.Tensor]:
    """The tensors of a loaded checkpoint: its ``state_dict`` (mmengine, mmpretrain), ``model``
    (official MAE/CAE) or the dict itself (timm)."""
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint.get(key), Mapping):
            return dict(checkpoint[key])
    if all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return dict(checkpoint)
    raise KeyError(f"checkpoint has no 'state_dict' or 'model' entry (keys: {sorted(checkpoint)})")


def load_pretrained(module: nn.Module, checkpoint: str, prefix: Optional[str] = None
                    ) -> KeyDiff:
    """``init_cfg=dict(type='Pretrained', checkpoint=..., prefix=...)`` with a key diff: load
    the checkpoint (through mmengine's loaders, so safely), keep the keys under ``prefix`` (with
    it removed) and :func:`load_with_report` them into ``module``."""
    state_dict = checkpoint_state_dict(CheckpointLoader.load_checkpoint(checkpoint, 'cpu'))
    if prefix:
        kept = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
        if not kept:
            tops = sorted({k.split('.')[0] + '.' for k in state_dict if '.' in k})
            raise CheckpointMismatchError(
                f'init_cfg.prefix={prefix!r}: no key of {checkpoint} starts with it (its keys '
                f'start with {tops[:8]})')
        state_dict = kept
    try:
        return load_with_report(module, state_dict)
    except ValueError as err:
        raise CheckpointMismatchError(f'{checkpoint}: {err}') from err


def trained_with(checkpoint: Mapping) -> Optional[str]:
    """The config name a mmengine checkpoint was trained with (its experiment name without the
    run's time stamp), or None."""
    name = (checkpoint.get('meta') or {}).get('experiment_name')
    return re.sub(r'_\d{8}_\d{6}$', '', name) if isinstance(name, str) else None


def load_whole_model(module: nn.Module, checkpoint: str, key: str = 'checkpoint') -> KeyDiff:
    """Load a checkpoint of the whole model (``load_from``, the test, evaluation and picture
    tools) and refuse one whose weights do not fit: a model key it lacks or holds in another
    shape, or a key the model lacks (e.g. MFF's fusion layers under an MAE config), means it is
    another model's checkpoint, and evaluating or training on it would measure another model.
    ``key`` names the option the checkpoint came from, for the message.

    Raises:
        CheckpointMismatchError: naming the first mismatched keys with their shapes and the
            config the checkpoint was trained with (from its meta data).
    """
    loaded = CheckpointLoader.load_checkpoint(checkpoint, 'cpu')
    state_dict = checkpoint_state_dict(loaded)
    state_dict = {k[7:] if k.startswith('module.') else k: v for k, v in state_dict.items()}
    config = trained_with(loaded)
    hint = f'; it was trained with the config {config}.py' if config else ''
    try:
        diff = load_with_report(module, state_dict)
    except ValueError as err:
        raise CheckpointMismatchError(f'{key} {checkpoint} does not fit '
                                      f'{type(module).__name__}: {err}{hint}') from err
    if diff.missing or diff.unexpected:
        examples = [f'{k}: not in the checkpoint' for k in diff.missing[:3]]
        examples += [f'{k}: not in the model'
                     for k in group_keys(diff.unexpected)[:max(1, 3 - len(examples))]]
        raise CheckpointMismatchError(
            f'{key} {checkpoint} does not fit {type(module).__name__}: '
            f'{len(diff.missing)} missing, {len(diff.unexpected)} the model lacks, of '
            f'{len(diff.loaded) + len(diff.missing)} (e.g. {"; ".join(examples[:4])}){hint}')
    return diff
