"""CAE's alignment check: all patches through the encoder, its output straight into the
pixel-target decoder (no regressor), the reconstruction beside the original.

    python tools/analysis_tools/cae_alignment_check.py \
        --model 'lambda=2' configs/cae/cae-pixel_vit-tiny-p4_1xb256-coslr-6e_fashion-mnist.py A \
        --model 'lambda=0' configs/cae/cae-pixel_vit-tiny-p4_1xb256-coslr-6e_fashion-mnist.py B \
        --out alignment.png

If the regressor's output lives in the encoder's representation space (the point of the
alignment loss), the decoder, trained only on regressed latents, also decodes the encoder's own
latents: a model trained with alignment reconstructs the image, one trained with lambda = 0 does
not. Prints (and writes beside the PNG as JSON) each model's mean squared error over all patches,
in the head's target space, on held-out images.
"""
import argparse
import json
import os.path as osp

from mmengine.config import DictAction

from mimlab.apis import heldout_batch, init_model, load_config
from mimlab.engine.checkpoint import allow_unsafe_load
from mimlab.visualization import save_picture, to_uint8_images
from mimlab.visualization.grid import draw_columns


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', nargs=3, action='append', required=True,
                        metavar=('LABEL', 'CONFIG', 'CHECKPOINT'))
    parser.add_argument('--split', default='test', help='held-out split of the config dataset')
    parser.add_argument('--num-images', type=int, default=8, help='images in the picture')
    parser.add_argument('--num-eval', type=int, default=512, help='images the error is averaged '
                        'over')
    parser.add_argument('--out', required=True, help='PNG to write (and a .json beside it)')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='load checkpoints with torch.load(weights_only=False): lets the file '
                        'run code when unpickled; only for checkpoints from a source you trust')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override keys of every config')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    allow_unsafe_load(args.unsafe_load)
    columns, results = [], {}
    for label, config, checkpoint in args.model:
        model = init_model(load_config(config, args.cfg_options), checkpoint)
        images = heldout_batch(model, model.cfg, args.split, args.num_eval)
        picture, error = model.reconstruct_from_encoder(images)
        pre = model.data_preprocessor
        if not columns:
            shown = images[:args.num_images]
            columns.append(('original', to_uint8_images(shown, pre.mean, pre.std)))
        columns.append((f'{label}\nMSE {float(error.mean()):.3f}',
                        to_uint8_images(picture[:args.num_images], pre.mean, pre.std)))
        results[label] = dict(config=config, checkpoint=checkpoint,
                              mse_all_patches=float(error.mean()), num_images=len(error))
        print(f'{label}: encoder -> decoder reconstruction MSE {float(error.mean()):.4f} '
              f'({len(error)} {args.split} images)')
    save_picture(draw_columns(columns), args.out)
    with open(osp.splitext(args.out)[0] + '.json', 'w') as f:
        json.dump(dict(split=args.split, models=results), f, indent=1)
    print(f'alignment check written to {args.out} (+ .json)')
    return results


if __name__ == '__main__':
    main()
