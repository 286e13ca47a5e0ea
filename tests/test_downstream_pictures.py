"""The pictures step of ``make demo-downstream``, end to end: the garment configs trained for two
iterations by ``tools/train.py`` write genuine runner checkpoints (meta, message hub, optimizer
state), and ``visualize_downstream.py`` draws their predictions in a fresh process, where only
mimlab's own code can have installed the safe loader that such a checkpoint needs (the step once
stopped because it no longer did). Training runs in this process (``tools/train.py``'s main):
a fresh interpreter for it would only add imports."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from conftest import FASHION_MNIST, REPO, import_tool
from mmengine.runner import CheckpointLoader
from PIL import Image

from mimlab.engine.workdir import latest_checkpoint
from mimlab.experiments.downstream.pictures import predict_detection, predict_segmentation

CONFIGS = dict(
    seg=osp.join(REPO, 'configs/benchmarks/mmseg',
                 'upernet_mae-vit-tiny-p4_1xb8-600it_garments-64x64.py'),
    det=osp.join(REPO, 'configs/benchmarks/mmdet',
                 'mask-rcnn_mae-vit-tiny-p4_1xb4-1000it_garments-64x64.py'))
# the validation scenes, under the folder the tools run from (the layouts of `make garments`)
VAL_IMAGES = dict(seg='data/garments/ade/ADEChallengeData2016/images/validation',
                  det='data/garments/coco/val2017')
ITERS = 2
NUM_VAL = 2
# Random init, two steps of two scenes, validation (the metrics in the pictures' titles) and a
# checkpoint after the last step.
TRAIN_OPTIONS = ['model.backbone.init_cfg=None', 'train_dataloader.batch_size=2',
                 f'train_cfg.max_iters={ITERS}', f'train_cfg.val_interval={ITERS}',
                 f'default_hooks.checkpoint.interval={ITERS}', 'default_hooks.logger.interval=1']


def run(args, cwd):
    """A tool as a user runs it: a fresh interpreter, from the folder that holds ``data/``."""
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable] + args, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout


@pytest.fixture(scope='module')
def garments(tmp_path_factory):
    """Four training and two validation garment scenes where the configs look for them (their
    data roots are relative to the folder the tools run from, like ``make demo-downstream``)."""
    from mimlab.datasets.scenes import garment_scenes, write_ade20k_layout, write_coco_layout
    root = tmp_path_factory.mktemp('garments')
    scenes = garment_scenes(64, FASHION_MNIST)
    write_ade20k_layout(str(root / 'data/garments/ade'), 4, NUM_VAL, seed=0, scenes=scenes)
    write_coco_layout(str(root / 'data/garments/coco'), 4, NUM_VAL, seed=0, scenes=scenes)
    return root


@pytest.mark.parametrize('task', ['seg', 'det'])
def test_pictures_of_trained_runs(garments, task, monkeypatch):
    work_dir = garments / f'{task}_run'
    monkeypatch.chdir(garments)
    import_tool('train').main([CONFIGS[task], '--work-dir', str(work_dir),
                               '--cfg-options'] + TRAIN_OPTIONS)
    checkpoint = latest_checkpoint(str(work_dir), required=True)
    assert osp.basename(checkpoint) == f'iter_{ITERS}.pth'
    # what torch's weights-only load refuses without mimlab's loader (this process has it)
    saved = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    assert {'meta', 'message_hub', 'optimizer', 'state_dict'} <= set(saved)
    assert saved['meta']['iter'] == ITERS

    out = garments / f'{task}.png'
    # score threshold 0: a two-step detector's scores are low, and the boxes should be drawn
    run([osp.join(REPO, 'tools/analysis_tools/visualize_downstream.py'), task, CONFIGS[task],
         '--runs', f'A={work_dir}', f'B={work_dir}', '--num-images', str(NUM_VAL),
         '--score-thr', '0', '--out', str(out)], garments)
    picture = np.asarray(Image.open(out).convert('RGB'))
    # input, ground truth and the two runs side by side, one row per validation scene: the
    # size of a grid of four columns and two rows, and not that of three columns
    from mimlab.visualization.downstream import draw_prediction_grid
    blank = [np.zeros((64, 64, 3), np.uint8)] * NUM_VAL
    classes = ['c'] * 10
    assert picture.shape == draw_prediction_grid([('', blank)] * 4, classes).shape
    assert picture.shape != draw_prediction_grid([('', blank)] * 3, classes).shape
    assert picture.std() > 10  # scenes and colours, not a blank canvas

    images = sorted(str(p) for p in (garments / VAL_IMAGES[task]).glob('*.jpg'))
    assert len(images) == NUM_VAL
    if task == 'seg':
        maps = predict_segmentation(CONFIGS[task], checkpoint, images)
        assert len(maps) == NUM_VAL
        for class_map in maps:
            assert class_map.shape == (64, 64) and 0 <= class_map.min() and class_map.max() < 10
    else:
        found = predict_detection(CONFIGS[task], checkpoint, images, score_thr=0.0)
        assert len(found) == NUM_VAL
        for dets in found:
            k = len(dets.labels)
            assert k > 0 and dets.boxes.shape == (k, 4) and dets.masks.shape == (k, 64, 64)
            assert dets.labels.max() < 10 and dets.scores.shape == (k,)
