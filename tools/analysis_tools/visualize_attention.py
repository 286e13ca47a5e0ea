"""Attention of the cls token over an image, per head, in the last block of a ViT encoder.

    python tools/analysis_tools/visualize_attention.py CONFIG CKPT IMAGE [IMAGE ...] --out FILE
    python tools/analysis_tools/visualize_attention.py CONFIG CKPT --split test --out FILE

One PNG: a row per image, the image then one map per head (over the image, half transparent).
Images are read with the config's ``test_pipeline``; every patch is encoded (no mask). The
weights are computed explicitly from the block's input (training keeps its fused attention).
"""
import argparse

import torch.nn.functional as F
from mmengine.config import DictAction

from mimlab.apis import init_model, load_config, pick_samples, prepare_batch
from mimlab.engine.checkpoint import allow_unsafe_load
from mimlab.engine.errors import one_line_errors
from mimlab.evaluation import cls_attention
from mimlab.experiments.cli import (add_image_arguments, add_unsafe_load_argument,
                                    parse_image_args)
from mimlab.visualization import save_picture, to_uint8_images
from mimlab.visualization.grid import draw_columns


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help="checkpoint file, or 'none' for random init")
    add_image_arguments(parser, num_images=4)
    parser.add_argument('--out', required=True, help='PNG file to write')
    parser.add_argument('--block', type=int, default=-1, help='the block (default: the last)')
    add_unsafe_load_argument(parser)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parse_image_args(parser, argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    allow_unsafe_load(args.unsafe_load)
    cfg = load_config(args.config, args.cfg_options)
    with one_line_errors(cfg):
        model = init_model(cfg, None if args.checkpoint == 'none' else args.checkpoint)
        samples, titles = pick_samples(cfg, args.images, args.split, args.num_images)
    inputs = prepare_batch(model, samples, cfg.test_pipeline)
    maps = cls_attention(model.backbone, inputs, args.block)
    # each patch's weight spread over its pixels, so the maps lie over the image
    maps = F.interpolate(maps, size=inputs.shape[-2:], mode='nearest')
    images = to_uint8_images(inputs, model.pixel_normalisation)
    block = args.block % model.backbone.depth
    columns = [('image', images)] + [(f'block {block} head {h}', maps[:, h].numpy())
                                     for h in range(maps.shape[1])]
    picture = draw_columns(columns, row_labels=titles, cmap='inferno', overlay=images)
    save_picture(picture, args.out)
    print(f'cls attention of block {block} ({maps.shape[1]} heads, {len(samples)} images) '
          f'written to {args.out}')
    return args.out


if __name__ == '__main__':
    main()
