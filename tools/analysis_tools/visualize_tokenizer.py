"""Reconstructions of a trained dVAE tokenizer: original | decode(encode(original)).

    python tools/analysis_tools/visualize_tokenizer.py CONFIG CKPT --out dvae.png

Held-out images of the config dataset (``--split``, through its ``test_pipeline``) are tokenized
(the most likely code per position) and decoded. Prints the round trip's mean squared error in
[0, 1] pixels, the error of decoding random tokens (chance) and how many codes the images use.
"""
import argparse
import json
import os.path as osp

import torch
from mmengine.config import DictAction

from mimlab.apis import heldout_batch, init_model, load_config
from mimlab.engine.checkpoint import allow_unsafe_load
from mimlab.visualization import save_picture
from mimlab.visualization.grid import draw_columns


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--split', default='test', help='held-out split of the config dataset')
    parser.add_argument('--num-images', type=int, default=8, help='images in the picture')
    parser.add_argument('--num-eval', type=int, default=512, help='images the error is averaged '
                        'over')
    parser.add_argument('--out', required=True, help='PNG to write (and a .json beside it)')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='load checkpoints with torch.load(weights_only=False): lets the file '
                        'run code when unpickled; only for checkpoints from a source you trust')
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
    with open(osp.splitext(args.out)[0] + '.json', 'w') as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))
    print(f'tokenizer reconstructions written to {args.out} (+ .json)')
    return result


if __name__ == '__main__':
    main()
