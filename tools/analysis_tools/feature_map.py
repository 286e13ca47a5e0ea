"""A 2-D map of an encoder's held-out features coloured by class (UMAP, or t-SNE without
umap-learn), as a PNG.

    python tools/analysis_tools/feature_map.py CONFIG CKPT --out map.png [--random-init]

The first ``--max-images`` images of the training dataset's ``--split`` (a labelled split; an
own folder with ``--data-root DIR``) are read through the config's ``test_pipeline`` and encoded
unmasked, as for ``knn.py``. ``--random-init`` draws the same network at random init beside it.
"""
import argparse

from mmengine.config import DictAction

from mimlab.apis import feature_map, load_config
from mimlab.experiments.cli import add_unsafe_load_argument
from mimlab.engine.checkpoint import allow_unsafe_load
from mimlab.engine.errors import one_line_errors
from mimlab.visualization import save_picture
from mimlab.visualization.feature_map import METHODS


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help="checkpoint file, or 'none' for random init")
    parser.add_argument('--out', required=True, help='PNG file to write')
    parser.add_argument('--split', default='test', help='labelled split to draw')
    parser.add_argument('--max-images', type=int, default=2000)
    parser.add_argument('--method', choices=METHODS, default='auto',
                        help='auto: UMAP when umap-learn is installed, else t-SNE')
    parser.add_argument('--random-init', action='store_true',
                        help='also draw the same network at random init, side by side')
    parser.add_argument('--pool', choices=['cls', 'avg'], default='cls')
    parser.add_argument('--data-root', help="the data folder (instead of the config's)")
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the random init and of the 2-D embedding')
    add_unsafe_load_argument(parser)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if args.max_images < 2:
        parser.error('--max-images must be >= 2')

    allow_unsafe_load(args.unsafe_load)
    cfg = load_config(args.config, args.cfg_options, data_root=args.data_root)
    checkpoint = None if args.checkpoint == 'none' else args.checkpoint
    with one_line_errors(cfg):
        try:
            picture, method = feature_map(cfg, checkpoint, args.split, args.max_images, args.method,
                                      args.random_init, args.pool, args.seed)
        except (ValueError, ImportError) as err:
            raise SystemExit(f'{args.config}: {err}')
    save_picture(picture, args.out)
    result = dict(out=args.out, method=method, split=args.split)
    print(result)
    return result


if __name__ == '__main__':
    main()
