"""Predicted masks (UperNet) or boxes and instance masks (Mask R-CNN) over a few validation
scenes, for several finished runs side by side, next to the ground truth; PNG.

    python tools/analysis_tools/visualize_downstream.py seg CONFIG \
        --runs MAE=work_dirs/garments/seg_10pct_mae_seed0 random=work_dirs/garments/seg_10pct_random_seed0 \
        --num-images 6 --out work_dirs/garments/seg_10pct.png

Each run's last checkpoint (``WORK_DIR/last_checkpoint``) is loaded with CONFIG and its final
metrics (``WORK_DIR/*/vis_data/scalars.json``) go into the column title. The validation scenes
are the first ``--num-images`` of the config's validation set (``data_root``). Segmentation
shows the predicted class on the pixels that the ground truth labels (those that mIoU scores:
the ground, label 0 in ADE20K's layout, is ignored in training and evaluation, so a model's
guess there means nothing).
"""
import argparse
import os.path as osp

import numpy as np
from mmengine.config import Config
from PIL import Image

from mimlab.engine.workdir import latest_checkpoint
from mimlab.experiments.downstream import last_metrics, run_label
from mimlab.experiments.downstream.pictures import (ade20k_ground_truth, coco_ground_truth,
                                                    predict_detection, predict_segmentation)
from mimlab.visualization import save_picture
from mimlab.visualization.downstream import (draw_prediction_grid, paint_classes,
                                             paint_instances)


def main(argv=None) -> np.ndarray:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('task', choices=['seg', 'det'])
    parser.add_argument('config')
    parser.add_argument('--runs', nargs='+', required=True, metavar='NAME=WORK_DIR')
    parser.add_argument('--num-images', type=int, default=6)
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='det: draw the detections scoring at least this')
    parser.add_argument('--out', required=True)
    args = parser.parse_args(argv)
    runs = [run.split('=', 1) for run in args.runs]
    if any(len(run) != 2 for run in runs):
        parser.error('--runs takes NAME=WORK_DIR pairs')
    cfg = Config.fromfile(args.config)
    classes = cfg.classes
    data_root = cfg.data_root
    if args.task == 'seg':
        paths, truths = ade20k_ground_truth(data_root, args.num_images)
        images = [np.asarray(Image.open(p).convert('RGB')) for p in paths]
        columns = [('input', images),
                   ('ground truth', [paint_classes(im, t) for im, t in zip(images, truths)])]
        for name, work_dir in runs:
            checkpoint = latest_checkpoint(work_dir, required=True)
            maps = predict_segmentation(args.config, checkpoint, paths)
            title = f'{name}: {run_label(last_metrics(work_dir), "seg")}'
            columns.append((title, [paint_classes(im, np.where(t >= 0, m, -1))
                                    for im, m, t in zip(images, maps, truths)]))
        picture = draw_prediction_grid(columns, classes)
    else:
        image_dir = osp.join(data_root, cfg.val_dataloader.dataset.data_prefix.img)
        paths, truths = coco_ground_truth(cfg.val_evaluator.ann_file, image_dir,
                                          args.num_images)
        images = [np.asarray(Image.open(p).convert('RGB')) for p in paths]
        sources = [('ground truth', truths)]
        for name, work_dir in runs:
            checkpoint = latest_checkpoint(work_dir, required=True)
            found = predict_detection(args.config, checkpoint, paths, args.score_thr)
            sources.append((f'{name}: {run_label(last_metrics(work_dir), "det")}', found))
        columns = [('input', images)] + [
            (title, [paint_instances(im, d.masks, d.labels) for im, d in zip(images, dets)])
            for title, dets in sources]
        boxes = [None] + [[(d.boxes, d.labels, d.scores) for d in dets] for _, dets in sources]
        picture = draw_prediction_grid(columns, classes, boxes=boxes)
    save_picture(picture, args.out)
    print(f'wrote {args.out}')
    return picture


if __name__ == '__main__':
    main()
