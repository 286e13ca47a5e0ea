"""Weights published by others into a mimlab checkpoint (the encoder under ``backbone.``).

    python tools/model_converters/convert.py {mae,timm,cae,mmpretrain} IN.pth OUT.pth
    python tools/model_converters/convert.py {mae,mmpretrain} IN.pth OUT.pth --whole-model

With ``--whole-model`` the whole MAE/MFF pretraining model (encoder, fusion, decoder) is kept in
mimlab's ``MAE`` keys, to continue pretraining (``load_from=OUT``) or to reconstruct images.

The named scripts beside it (``mae_to_mimlab.py``, ``cae_to_mimlab.py``,
``mmpretrain_to_mimlab.py``) are this tool with the source fixed. The result loads as a mimlab
pretraining checkpoint does: ``init_cfg=dict(type='Pretrained', checkpoint=OUT,
prefix='backbone.')``.
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
    parser.add_argument('--whole-model', action='store_true',
                        help='keep the whole pretraining model (official MAE, mmpretrain MAE/MFF)')
    args = parser.parse_args(argv)
    source = source or args.source
    if not osp.isfile(args.src):
        raise SystemExit(f'checkpoint {args.src} does not exist')
    options = dict(no_embed_class=True) if getattr(args, 'no_embed_class', False) else {}
    if options and args.whole_model:
        parser.error('--no-embed-class is for timm encoders, not whole MAE models')
    with one_line_errors():
        try:
            converted, dropped = convert_checkpoint(args.src, args.dst, source,
                                                    whole_model=args.whole_model, **options)
        except (KeyError, ValueError) as err:  # a checkpoint of another layout
            raise SystemExit(str(err).strip('"')) from err
    what = 'model tensors' if args.whole_model else 'encoder tensors (as backbone.*)'
    print(f'{args.dst}: {len(converted)} {what} from the {source} layout of {args.src}')
    if dropped:
        kept = 'the model' if args.whole_model else 'the encoder'
        print(f'dropped {len(dropped)} keys that are not {kept}:')
        for group in group_keys(dropped):
            print(f'  {group}')


if __name__ == '__main__':
    main()
