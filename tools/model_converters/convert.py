"""Weights published by others into a mimlab checkpoint (the encoder under ``backbone.``).

    python tools/model_converters/convert.py {mae,timm,cae,mmpretrain} IN.pth OUT.pth
    python tools/model_converters/convert.py {mae,cae,mmpretrain} IN.pth OUT.pth --whole

With ``--whole`` the whole pretraining model is kept in the mimlab algorithm's keys (official MAE
and mmpretrain MAE/MFF: encoder, fusion, decoder; official and mmpretrain CAE: encoder, regressor,
decoder, head), to continue pretraining (``load_from=OUT``) or to reconstruct images.

The result loads as a mimlab pretraining checkpoint does: ``init_cfg=dict(type='Pretrained', checkpoint=OUT,
prefix='backbone.')``; a ``--whole`` one loads with ``load_from`` or ``tools/test.py``.
"""
import argparse
import os.path as osp

from mimlab.apis import convert_checkpoint
from mimlab.apis.converters import CONVERTERS, head_count_note
from mimlab.engine.errors import one_line_errors
from mimlab.models.utils.state_dict import group_keys


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('source', choices=sorted(CONVERTERS), help='the layout of IN')
    parser.add_argument('src', help='the checkpoint to convert')
    parser.add_argument('dst', help='where to write the mimlab checkpoint')
    parser.add_argument('--no-embed-class', action='store_true',
                        help="mae, timm: models built with no_embed_class=True (no position for "
                        "the class token)")
    parser.add_argument('--whole', action='store_true',
                        help='mae, cae, mmpretrain: convert the whole pretraining model (official '
                        'MAE and CAE, mmpretrain MAE/MFF/CAE), not only the encoder')
    args = parser.parse_args(argv)
    source = args.source
    if not osp.isfile(args.src):
        raise SystemExit(f'checkpoint {args.src} does not exist')
    options = dict(no_embed_class=True) if args.no_embed_class else {}
    whole = args.whole
    if options and whole:
        parser.error('--no-embed-class is for timm encoders, not whole models')
    with one_line_errors():
        try:
            converted, dropped = convert_checkpoint(args.src, args.dst, source, whole=whole,
                                                    **options)
        except (KeyError, ValueError) as err:  # a checkpoint of another layout
            raise SystemExit(str(err).strip('"')) from err
    what = 'model tensors' if whole else 'encoder tensors (as backbone.*)'
    print(f'{args.dst}: {len(converted)} {what} from the {source} layout of {args.src}')
    print(f'note: {head_count_note(source)}')
    if dropped:
        print(f'dropped {len(dropped)} keys that are not the {"model" if whole else "encoder"}:')
        for group in group_keys(dropped):
            print(f'  {group}')


if __name__ == '__main__':
    main()
