"""Convert OpenAI's published DALL-E dVAE encoder into a state dict for mimlab's DALLEEncoder.

    python tools/model_converters/dalle_to_mimlab.py encoder.pkl checkpoints/dalle_encoder.pth \
        --unsafe-load

The published file (https://cdn.openai.com/dall-e/encoder.pkl) is a pickled module of the
``dall_e`` package: unpickling it can run code, so it needs ``--unsafe-load`` (only for a file
from a source you trust). The ``dall_e`` package itself is not needed: its classes are read as
plain modules holding their parameters. A file that is already a state dict in the published key
layout (``blocks.input.w`` ... ``blocks.output.conv.b``) loads safely (``weights_only``) without
the flag. The keys are checked against a DALLEEncoder of the given sizes (no missing, no
unexpected keys) and written as ``{'state_dict': ...}``, which the CAE configs load with
``init_cfg=dict(type='Pretrained', checkpoint=OUT)``.
"""
import argparse
import io
import os.path as osp
import pickle
import types

import torch
import torch.nn as nn

from mimlab.engine.checkpoint import atomic_write, load_local_checkpoint
from mimlab.models.tokenizers import DALLE_ENCODER_URL, DALLEEncoder

_STUBS = {}


def _stub_class(module: str, name: str) -> type:
    """A bare ``nn.Module`` subclass standing in for a ``dall_e`` class: unpickling restores its
    ``_parameters`` and ``_modules``, which is all ``state_dict()`` needs."""
    key = f'{module}.{name}'
    if key not in _STUBS:
        _STUBS[key] = type(name, (nn.Module,), {'__module__': module})
    return _STUBS[key]


class _DallEUnpickler(pickle.Unpickler):

    def find_class(self, module: str, name: str):
        if module == 'dall_e' or module.startswith('dall_e.'):
            return _stub_class(module, name)
        return super().find_class(module, name)


# torch.load(pickle_module=...) takes a module-like object with Unpickler and load
_stub_pickle = types.SimpleNamespace(Unpickler=_DallEUnpickler, load=pickle.load,
                                     __name__='dall_e_stub_pickle')


def load_published_state(path: str, unsafe: bool = False) -> dict:
    """The state dict in the published key layout from ``path``: a state dict (loaded safely) or,
    with ``unsafe``, a pickled ``dall_e`` Encoder module."""
    if not osp.isfile(path):
        raise SystemExit(f'{path} does not exist: download OpenAI\'s DALL-E encoder from '
                         f'{DALLE_ENCODER_URL}')
    if unsafe:
        obj = torch.load(path, map_location='cpu', weights_only=False,
                         pickle_module=_stub_pickle)
    else:
        obj = load_local_checkpoint(path, map_location='cpu')  # refuses a pickled module
    if isinstance(obj, nn.Module):
        return obj.state_dict()
    if isinstance(obj, dict) and 'state_dict' in obj:
        return obj['state_dict']
    if isinstance(obj, dict):
        return obj
    raise SystemExit(f'{path} holds a {type(obj).__name__}, neither the DALL-E encoder module '
                     'nor a state dict')


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help="OpenAI's encoder.pkl, or a state dict in its key layout")
    parser.add_argument('dst', help='the state dict to write (.pth)')
    parser.add_argument('--n-hid', type=int, default=256, help='published: 256')
    parser.add_argument('--vocab-size', type=int, default=8192, help='published: 8192')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='unpickle a pickled module (the published file): lets the file run '
                        'code; only for a file from a source you trust')
    args = parser.parse_args(argv)
    state = load_published_state(args.src, args.unsafe_load)
    state = {k: v.detach().float().contiguous() for k, v in state.items()}
    expected = DALLEEncoder(n_hid=args.n_hid, vocab_size=args.vocab_size).state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        raise SystemExit(
            f'{args.src} does not match the DALL-E encoder with n_hid={args.n_hid}, vocab_size='
            f'{args.vocab_size}: missing {missing[:5]}, unexpected {unexpected[:5]}, wrong '
            f'shape {wrong[:5]}')
    buffer = io.BytesIO()
    torch.save(dict(state_dict=state, meta=dict(source=osp.basename(args.src),
                                                n_hid=args.n_hid, vocab_size=args.vocab_size)),
               buffer)
    atomic_write(args.dst, buffer.getvalue())
    print(f'wrote the DALL-E encoder ({len(state)} tensors) to {args.dst}')
    return args.dst


if __name__ == '__main__':
    main()
