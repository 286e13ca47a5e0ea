"""Fit the PCA basis of MAE's PCA reconstruction target, once, on a config's data.

    python tools/analysis_tools/fit_patch_pca.py CONFIG --k 4 --out work_dirs/pca/fmnist-k4.pth \
        [--split train] [--max-images 5000]

The patches are exactly what the config's reconstruction head would regress without PCA (the
images through the ``test_pipeline`` and the model's data preprocessor, patchified, per-patch
normalised if ``norm_pix``). Writes ``mean``, the top-k ``components``, their
``explained_variance`` and the ``total_variance``; point the head at it with
``--cfg-options model.head.pca_file=FILE``.
"""
import argparse
import json
import os
import os.path as osp

import torch
from mmengine.config import DictAction
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader

from mimlab.apis import init_model, load_config
from mimlab.datasets import build_split_dataset
from mimlab.models.utils import fit_pca


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--k', type=int, required=True, help='components to keep')
    parser.add_argument('--out', required=True, help='the file to write (.pth)')
    parser.add_argument('--split', default='train')
    parser.add_argument('--max-images', type=int, default=5000,
                        help='fit on the first N images of the split')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if not osp.isfile(args.config):
        raise SystemExit(f'config file {args.config} does not exist')

    cfg = load_config(args.config, args.cfg_options)
    if cfg.model.get('head', {}).get('type') != 'PixelReconstructionHead':
        raise SystemExit(f'{args.config}: model.head is not a PixelReconstructionHead')
    cfg.model.head.pca_file = None  # fit on the plain target
    model = init_model(cfg)
    dataset = build_split_dataset(cfg, args.split, indices=args.max_images)
    patches = []
    with torch.no_grad():
        for batch in DataLoader(dataset, batch_size=256, collate_fn=pseudo_collate):
            inputs = model.data_preprocessor(batch, training=False)['inputs']
            patches.append(model.head.pixel_target.patches(inputs).flatten(0, 1))
    samples = torch.cat(patches)
    pca = fit_pca(samples, args.k)
    state = dict(pca, k=args.k, patch_size=model.backbone.patch_size,
                 config=osp.abspath(args.config), split=args.split, num_images=len(dataset),
                 norm_pix=bool(model.head.pixel_target.norm_pix))
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    torch.save(state, args.out)
    kept = float(pca['explained_variance'].sum() / pca['total_variance'])
    result = dict(out=args.out, k=args.k, dim=samples.shape[1], num_patches=len(samples),
                  num_images=len(dataset), variance_kept=round(kept, 4),
                  explained_variance=[round(float(v), 5) for v in pca['explained_variance']])
    print(json.dumps(result, indent=1))
    return result


if __name__ == '__main__':
    main()
