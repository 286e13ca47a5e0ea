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

from mimlab.engine.checkpoint import allow_unsafe_load
from mimlab.experiments.cli import (add_heldout_picture_arguments, add_model_arguments,
                                    add_unsafe_load_argument, heldout_models, json_beside,
                                    save_result)
from mimlab.visualization import save_picture, to_uint8_images
from mimlab.visualization.grid import draw_columns


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_model_arguments(parser)
    add_heldout_picture_arguments(parser)
    add_unsafe_load_argument(parser)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    allow_unsafe_load(args.unsafe_load)
    columns, results = [], {}
    for (label, config, checkpoint), model, images in heldout_models(args, args.num_eval):
        picture, error = model.reconstruct_from_encoder(images)
        if not columns:
            shown = images[:args.num_images]
            columns.append(('original', to_uint8_images(shown, model.pixel_normalisation)))
        columns.append((f'{label}\nMSE {float(error.mean()):.3f}',
                        to_uint8_images(picture[:args.num_images], model.pixel_normalisation)))
        results[label] = dict(config=config, checkpoint=checkpoint,
                              mse_all_patches=float(error.mean()), num_images=len(error))
        print(f'{label}: encoder -> decoder reconstruction MSE {float(error.mean()):.4f} '
              f'({len(error)} {args.split} images)')
    save_picture(draw_columns(columns), args.out)
    save_result(json_beside(args.out), dict(split=args.split, models=results))
    print(f'alignment check written to {args.out} (+ .json)')
    return results


if __name__ == '__main__':
    main()
