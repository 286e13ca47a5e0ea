"""Picture of MAE reconstructions: masked | reconstruction | reconstruction + visible | original.

    python tools/analysis_tools/visualize_reconstruction.py CONFIG CKPT IMAGE [IMAGE ...] --out FILE
    python tools/analysis_tools/visualize_reconstruction.py CONFIG CKPT --split test --out FILE

Images are read and resized with the config's ``test_pipeline``; with ``--split`` they are taken,
evenly spaced, from the training dataset's held-out split. With a per-patch normalised target the
prediction is mapped back to pixels with each patch's own mean and variance.
"""
import argparse

from mmengine.config import DictAction

from mimlab.apis import init_model, load_config, pick_samples, prepare_batch, reconstruct
from mimlab.datasets.transforms import BadImageError
from mimlab.engine.checkpoint import allow_unsafe_load
from mimlab.engine.errors import one_line_errors
from mimlab.experiments.cli import (add_image_arguments, add_unsafe_load_argument,
                                    parse_image_args)
from mimlab.visualization import draw_reconstructions, save_picture


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    add_image_arguments(parser, num_images=8)
    parser.add_argument('--out', required=True, help='PNG file to write')
    parser.add_argument('--data-root', help="the data folder --split reads (instead of the "
                        "config's)")
    parser.add_argument('--seed', type=int, default=0, help='seed of the masks')
    parser.add_argument('--device', default='cpu')
    add_unsafe_load_argument(parser)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parse_image_args(parser, argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    allow_unsafe_load(args.unsafe_load)
    cfg = load_config(args.config, args.cfg_options, data_root=args.data_root)
    if 'test_pipeline' not in cfg:
        raise SystemExit(f'{args.config} defines no test_pipeline to prepare images with')
    with one_line_errors(cfg):
        model = init_model(cfg, args.checkpoint, device=args.device)
        samples, titles = pick_samples(cfg, args.images, args.split, args.num_images)
        try:
            inputs = prepare_batch(model, samples, cfg.test_pipeline)
        except BadImageError as err:  # one line naming the file, as in training
            raise SystemExit(str(err)) from err
    rec = reconstruct(model, inputs, seed=args.seed)
    picture = draw_reconstructions(rec, model.pixel_normalisation, titles=titles)
    save_picture(picture, args.out)
    print(f'reconstruction of {len(samples)} images (mean loss on removed patches '
          f'{float(rec.loss.mean()):.4f}) written to {args.out}')
    return args.out


if __name__ == '__main__':
    main()
