"""Weights published by others into a mimlab checkpoint (the encoder under ``backbone.``).

    python tools/model_converters/convert.py {mae,timm,cae,mmpretrain} IN.pth OUT.pth
    python tools/model_converters/convert.py {cae,mmpretrain} IN.pth OUT.pth --whole   # CAE

The named scripts beside it (``mae_to_mimlab.py``, ``cae_to_mimlab.py``,
``mmpretrain_to_mimlab.py``) are this tool with the source fixed. The result loads as a mimlab
pretraining checkpoint does: ``init_cfg=dict(type='Pretrained', checkpoint=OUT,
prefix='backbone.')``. With ``--whole`` a CAE pretraining checkpoint (official CAE or
mmpretrain's) becomes a whole mimlab CAE checkpoint (encoder, regressor, decoder, head), loadable
with ``load_from`` or ``tools/test.py``.
"""
import argparse
import os.path as osp

from mimlab.apis import convert_checkpoint
from mimlab.apis.converters import CONVERTERS
from mimlab.engine.errors import one_line_errors
from mimlab.models.utils.state_dict import group_keys


def main(argv=None, source=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    if source is None:
        parser.add_argument('source', choices=sorted(CONVERTERS), help='the layout of IN')
    parser.add_argument('src', help='the checkpoint to convert')
    parser.add_argument('dst', help='where to write the mimlab checkpoint')
    if source in (None, 'mae', 'timm'):
        parser.add_argument('--no-embed-class', action='store_true',
                            help="timm models built with no_embed_class=True (no position for "
                            "the class token)")
    if source in (None, 'cae', 'mmpretrain'):
        parser.add_argument('--whole', action='store_true',
                            help='convert the whole CAE pretraining model (regressor, decoder, '
                            'head), not only the encoder')
    args = parser.parse_args(argv)
    source = source or args.source
    if not osp.isfile(args.src):
        raise SystemExit(f'checkpoint {args.src} does not exist')
    options = dict(no_embed_class=True) if getattr(args, 'no_embed_class', False) else {}
    whole = getattr(args, 'whole', False)
    with one_line_errors():
        try:
            converted, dropped = convert_checkpoint(args.src, args.dst, source, whole=whole,
                                                    **options)
        except (KeyError, ValueError) as err:  # a checkpoint of another layout
            raise SystemExit(str(err).strip('"')) from err
    what = 'CAE model tensors' if whole else 'encoder tensors (as backbone.*)'
    print(f'{args.dst}: {len(converted)} {what} from the {source} layout of {args.src}')
    if dropped:
        print(f'dropped {len(dropped)} keys that are not the {"model" if whole else "encoder"}:')
        for group in group_keys(dropped):
            print(f'  {group}')


if __name__ == '__main__':
    main()
