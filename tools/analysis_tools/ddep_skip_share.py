"""The share of a trained DDeP decoder's denoising that comes through its image skips: held-out
eps-MSE as trained, with the encoder's features zeroed, and of predicting no noise.

    python tools/analysis_tools/ddep_skip_share.py CONFIG CHECKPOINT [--split validation] \
        [--out f.json] [--cfg-options model.target=image]

The config must describe the checkpoint's model (its target and ``image_skip_strides``); a
target other than the one stored in the checkpoint's run config is refused. The logic is :func:`mimlab.experiments.ddep_skip.skip_share`.
"""
import argparse

from mmengine.config import DictAction

from mimlab.apis import load_config
from mimlab.engine.errors import one_line_errors
from mimlab.experiments.cli import print_result
from mimlab.experiments.ddep_skip import skip_share


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--split', default='validation')
    parser.add_argument('--batch-size', type=int, help="default: the config's test batch")
    parser.add_argument('--out', help='write the result as JSON')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    with one_line_errors():
        result = skip_share(load_config(args.config, args.cfg_options), args.checkpoint,
                            args.split, args.batch_size)
    print_result(result, args.out, indent=None)
    return result


if __name__ == '__main__':
    main()
