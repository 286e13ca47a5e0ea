"""Write the encoder of a mimlab checkpoint on its own, by default in timm's keys.

    python tools/model_converters/export_backbone.py CKPT OUT [--layout timm|mimlab|mmpretrain|cae]

timm: the tool prints the ``timm.models.vision_transformer.VisionTransformer(...)`` arguments that
rebuild the encoder (sizes from the weights, heads from the checkpoint's config), whose
``load_state_dict(torch.load(OUT))`` takes the file;
mimlab: ``init_cfg=dict(type='Pretrained', checkpoint=OUT)`` (no prefix).

    python tools/model_converters/export_backbone.py CKPT OUT --whole --layout mmpretrain|cae

writes a whole mimlab CAE pretraining checkpoint (encoder, regressor, decoder, head) in
mmpretrain's or the official CAE layout instead.
"""
import argparse
import os.path as osp

from mimlab.apis import export_backbone
from mimlab.apis.export import LAYOUTS, MODEL_LAYOUTS, export_cae_model, timm_arguments
from mimlab.engine.errors import one_line_errors


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='a mimlab checkpoint (pretraining or fine-tuning)')
    parser.add_argument('out', help='where to write the encoder')
    parser.add_argument('--layout', choices=LAYOUTS, default='timm')
    parser.add_argument('--prefix', default='backbone.', help="the encoder's key prefix")
    parser.add_argument('--whole', action='store_true',
                        help=f'the whole CAE model, --layout one of {MODEL_LAYOUTS}')
    args = parser.parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint {args.checkpoint} does not exist')
    with one_line_errors():
        try:
            if args.whole:
                exported = export_cae_model(args.checkpoint, args.out, args.layout)
            else:
                exported = export_backbone(args.checkpoint, args.out, args.layout, args.prefix)
        except (KeyError, ValueError) as err:  # not a mimlab checkpoint, or no such layout
            raise SystemExit(str(err).strip('"')) from err
    what = 'CAE model' if args.whole else 'encoder'
    print(f'{args.out}: {len(exported)} {what} tensors in the {args.layout} layout')
    if args.layout == 'timm' and not args.whole:
        try:
            kwargs = ', '.join(f'{k}={v!r}' for k, v in
                               timm_arguments(args.checkpoint, args.prefix).items())
        except KeyError as err:  # the heads are not known: the export itself is done
            print(f'no timm arguments: {str(err).strip(chr(34))}')
        else:
            print(f'rebuild it in timm: model = timm.models.vision_transformer.VisionTransformer('
                  f'{kwargs}); model.load_state_dict(torch.load({args.out!r}))')


if __name__ == '__main__':
    main()
