"""Write the encoder of a mimlab checkpoint on its own, by default in timm's keys.

    python tools/model_converters/export_backbone.py CKPT OUT [--layout timm|mimlab|mmpretrain|cae]

timm: the tool prints the ``timm.models.vision_transformer.VisionTransformer(...)`` arguments that
rebuild the encoder (sizes from the weights, heads from the checkpoint's config), whose
``load_state_dict(torch.load(OUT))`` takes the file;
mimlab: ``init_cfg=dict(type='Pretrained', checkpoint=OUT)`` (no prefix).

    python tools/model_converters/export_backbone.py CKPT OUT --whole --layout mmpretrain|mae|cae

writes a whole mimlab pretraining checkpoint in a reference's layout instead: MAE and MFF
(encoder, fusion, decoder) as mmpretrain 1.2.0's MAE/MFF (``--layout mmpretrain``) or official
MAE's ``MaskedAutoencoderViT`` (``--layout mae``, MAE only); CAE (encoder, regressor, decoder,
head) as mmpretrain's CAE or official CAE (``--layout cae``).
"""
import argparse
import os.path as osp

from mimlab.apis import export_backbone
from mimlab.apis.export import LAYOUTS, MODEL_LAYOUTS, export_model, timm_arguments
from mimlab.engine.errors import one_line_errors


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='a mimlab checkpoint (pretraining or fine-tuning)')
    parser.add_argument('out', help='where to write the encoder')
    parser.add_argument('--layout', choices=sorted(set(LAYOUTS) | set(MODEL_LAYOUTS)),
                        default=None, help='encoder: one of %s (default timm); --whole: one of '
                        '%s (default mmpretrain)' % (LAYOUTS, MODEL_LAYOUTS))
    parser.add_argument('--prefix', default='backbone.', help="the encoder's key prefix")
    parser.add_argument('--whole', action='store_true',
                        help='the whole pretraining model (MAE, MFF or CAE), not only the encoder')
    args = parser.parse_args(argv)
    layouts = MODEL_LAYOUTS if args.whole else LAYOUTS
    args.layout = args.layout or ('mmpretrain' if args.whole else 'timm')
    if args.layout not in layouts:
        parser.error(f'--layout {args.layout} is not one of {layouts}'
                     f'{" for --whole" if args.whole else " for an encoder"}')
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint {args.checkpoint} does not exist')
    with one_line_errors():
        try:
            if args.whole:
                exported = export_model(args.checkpoint, args.out, args.layout)
            else:
                exported = export_backbone(args.checkpoint, args.out, args.layout, args.prefix)
        except (KeyError, ValueError) as err:  # not a mimlab checkpoint, or no such layout
            raise SystemExit(str(err).strip('"')) from err
    what = 'model' if args.whole else 'encoder'
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
