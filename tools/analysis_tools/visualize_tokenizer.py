"""Reconstructions of a trained dVAE tokenizer: original | decode(encode(original)).

    python tools/analysis_tools/visualize_tokenizer.py CONFIG CKPT --out dvae.png

Held-out images of the config dataset (``--split``, through its ``test_pipeline``) are tokenized
(the most likely code per position) and decoded. Prints the round trip's mean squared error in
[0, 1] pixels, the error of decoding random tokens (chance) and how many codes the images use.
"""
import argparse

import torch
from mmengine.config import DictAction

from mimlab.apis import heldout_batch, init_model, load_config
from mimlab.engine.checkpoint import allow_unsafe_load
from mimlab.experiments.cli import (add_heldout_picture_arguments, add_unsafe_load_argument,
                                    json_beside, print_result)
from mimlab.visualization import save_picture
from mimlab.visualization.grid import draw_columns


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    add_heldout_picture_arguments(parser)
    add_unsafe_load_argument(parser)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def to_uint8(pixels: torch.Tensor):
    return (pixels.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


@torch.no_grad()
def main(argv=None) -> dict:
    args = parse_args(argv)
    allow_unsafe_load(args.unsafe_load)
    model = init_model(load_config(args.config, args.cfg_options), args.checkpoint)
    inputs = heldout_batch(model, model.cfg, args.split, args.num_eval)
    pixels = model.to_unit_range(inputs)
    tokenizer = model.tokenizer
    ids = tokenizer.encode(pixels)
    recon = tokenizer.decode(ids)
    generator = torch.Generator().manual_seed(0)
    chance = tokenizer.decode(torch.randint(tokenizer.vocab_size, ids.shape, generator=generator))
    result = dict(config=args.config, checkpoint=args.checkpoint, num_images=len(ids),
                  mse=float((recon - pixels).pow(2).mean()),
                  mse_random_tokens=float((chance - pixels).pow(2).mean()),
                  codes_used=int(ids.unique().numel()), vocab_size=tokenizer.vocab_size,
                  token_grid=list(ids.shape[1:]))
    n = args.num_images
    picture = draw_columns([('original', to_uint8(pixels[:n])),
                            (f'dVAE round trip\nMSE {result["mse"]:.4f}', to_uint8(recon[:n]))])
    save_picture(picture, args.out)
    print_result(result, json_beside(args.out))
    print(f'tokenizer reconstructions written to {args.out} (+ .json)')
    return result


if __name__ == '__main__':
    main()
