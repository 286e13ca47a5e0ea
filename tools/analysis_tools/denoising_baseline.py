"""The denoising loss of a fixed 3x3 high-pass filter with one fitted scale, on a DDeP config's
held-out images with the same fixed noise as ``tools/test.py`` (seed 0 per batch): the figure a
trained DDeP decoder's held-out loss should be well below.

    python tools/analysis_tools/denoising_baseline.py CONFIG [--split validation] [--out f.json] \
        [--cfg-options data_preprocessor.std=...]
"""
import argparse

from mmengine.config import DictAction

from mimlab.apis import load_config
from mimlab.apis.denoising import heldout_highpass_baseline
from mimlab.experiments.cli import print_result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--split', default='validation')
    parser.add_argument('--batch-size', type=int, help='default: the config\'s test batch')
    parser.add_argument('--out', help='write the result as JSON')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    result = heldout_highpass_baseline(load_config(args.config, args.cfg_options), args.split, args.batch_size)
    print_result(result, args.out, indent=None)  # one line on stdout, for a shell pipe
    return result


if __name__ == '__main__':
    main()
