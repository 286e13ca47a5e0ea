"""The downstream grid (seeds x label fractions x inits): each cell's options, the mean +- std
table from the runs' logged metrics, and the prediction pictures' painting."""
import json
import os
import os.path as osp
import sys

import numpy as np
import pytest
from conftest import import_tool

from mimlab.experiments.downstream import (DownstreamCell, cell_options, count_training_images,
                                           finished, format_table, summarize_grid)
from mimlab.visualization.downstream import PALETTE, paint_classes, paint_instances


def test_cell_options_set_seed_labelled_subset_and_init():
    ckpts = dict(mae='mae.pth', ddep='ddep.pth', dep='dep.pth')
    mae = cell_options(DownstreamCell('seg', 10, 'mae', 2), 2000, ckpts)
    assert mae == ['randomness.seed=2', 'train_dataloader.dataset.indices=200',
                   'model.backbone.init_cfg.checkpoint=mae.pth']
    full = cell_options(DownstreamCell('det', 100, 'random', 0), 2000, ckpts)
    assert full == ['randomness.seed=0', 'model.backbone.init_cfg=None']
    with pytest.raises(ValueError, match=r"\['mae', 'random'\], got 'imagenet'"):
        cell_options(DownstreamCell('det', 100, 'imagenet', 0), 2000, ckpts)
    with pytest.raises(ValueError, match="task is one of"):
        cell_options(DownstreamCell('cls', 100, 'mae', 0), 2000, ckpts)


def test_ddep_cells_differ_in_where_the_decoder_and_encoder_come_from():
    """DDeP's U-Net cells: the frozen MAE encoder with the DDeP decoder or a random one, or
    DeP's encoder and decoder (one checkpoint for both)."""
    ckpts = dict(mae='mae.pth', ddep='ddep.pth', dep='dep.pth')
    ddep, random, dep = (cell_options(DownstreamCell('ddep', 10, init, 1), 2000, ckpts)
                         for init in ('ddep', 'random', 'dep'))
    head = ['randomness.seed=1', 'train_dataloader.dataset.indices=200']
    assert ddep == head + ['model.backbone.init_cfg.checkpoint=mae.pth',
                           'model.decode_head.decoder_checkpoint=ddep.pth']
    assert random == head + ['model.backbone.init_cfg.checkpoint=mae.pth',
                             'model.decode_head.decoder_checkpoint=None']
    assert dep == head + ['model.backbone.init_cfg.checkpoint=dep.pth',
                          'model.decode_head.decoder_checkpoint=dep.pth']
    with pytest.raises(ValueError, match="needs the dep checkpoint"):
        cell_options(DownstreamCell('ddep', 10, 'dep', 1), 2000, dict(mae='mae.pth'))
    with pytest.raises(ValueError, match="got 'mae'"):
        cell_options(DownstreamCell('ddep', 10, 'mae', 1), 2000, ckpts)


def test_ddep_cells_load_the_pretraining_run_of_their_seed(tmp_path, capsys):
    """``{seed}`` in a checkpoint path is the cell's seed: each fine-tuning seed loads its own
    DDeP / DeP pretraining run; the grid stops naming the first run that is missing."""
    ckpts = dict(mae='mae.pth', ddep='ddep_seed{seed}/epoch_5.pth', dep='dep.pth')
    for seed in (0, 2):
        ddep = cell_options(DownstreamCell('ddep', 10, 'ddep', seed), 2000, ckpts)
        assert ddep[-1] == f'model.decode_head.decoder_checkpoint=ddep_seed{seed}/epoch_5.pth'
        assert cell_options(DownstreamCell('ddep', 10, 'dep', seed), 2000, ckpts)[-1] == \
            'model.decode_head.decoder_checkpoint=dep.pth'  # no {seed}: one run for all
    tool = import_tool('downstream_grid', 'tools/analysis_tools')
    (tmp_path / 'mae.pth').touch()
    (tmp_path / 'ddep_seed0').mkdir()
    (tmp_path / 'ddep_seed0' / 'epoch_5.pth').touch()
    log_run(tmp_path / 'grid' / DownstreamCell('ddep', 10, 'ddep', 0).name, mIoU=40.0)
    with pytest.raises(SystemExit):  # seed 0 ran; seed 1's pretraining is not there
        tool.main(['--work-dir', str(tmp_path / 'grid'), '--tasks', 'ddep', '--percents', '10',
                   '--seeds', '0', '1', '--inits', 'ddep', '--checkpoint',
                   str(tmp_path / 'mae.pth'), '--ddep-checkpoint',
                   str(tmp_path / 'ddep_seed{seed}' / 'epoch_5.pth')])
    assert 'ddep_seed1/epoch_5.pth is missing (train the DDeP config first)' in \
        capsys.readouterr().err


def log_run(work_dir, **scalars):
    """A finished run's scalars as mmengine's LocalVisBackend writes them."""
    folder = work_dir / '20260101_000000' / 'vis_data'
    folder.mkdir(parents=True)
    with open(folder / 'scalars.json', 'w') as f:
        f.write(json.dumps(dict(loss=1.0, step=10)) + '\n')
        f.write(json.dumps(dict(scalars, step=20)) + '\n')


def test_grid_table_is_mean_and_std_over_finished_seeds(tmp_path):
    for seed, (m, r) in enumerate([(60.0, 50.0), (62.0, 54.0)]):
        log_run(tmp_path / DownstreamCell('seg', 10, 'mae', seed).name, mIoU=m, aAcc=90.0)
        log_run(tmp_path / DownstreamCell('seg', 10, 'random', seed).name, mIoU=r)
    log_run(tmp_path / DownstreamCell('det', 10, 'mae', 0).name,
            **{'coco/bbox_mAP': 0.25, 'coco/segm_mAP': 0.2})
    log_run(tmp_path / DownstreamCell('det', 10, 'random', 0).name,
            **{'coco/bbox_mAP': 0.1})  # an unfinished run: no mask AP yet
    cells = [DownstreamCell(t, 10, i, s) for t in ('seg', 'det') for i in ('mae', 'random')
             for s in (0, 1)]
    results = {c: finished(str(tmp_path), c) for c in cells}
    assert results[DownstreamCell('det', 10, 'random', 0)] is None
    rows = summarize_grid(results)
    assert rows[0] == {'task': 'seg', 'metric': 'mIoU', 'labels': '10%',
                       'mae': '61.0 +- 1.4 (n=2)', 'mae seeds': '0,1',
                       'random': '52.0 +- 2.8 (n=2)', 'random seeds': '0,1'}
    # mmdet's fractions shown in percent; the unfinished random-init run counts as not run
    assert rows[1]['metric'] == 'box AP' and rows[1]['mae'] == '25.0 (n=1)'
    assert rows[1]['random'] == 'not run' and rows[2]['mae'] == '20.0 (n=1)'
    assert format_table(rows).splitlines()[0].startswith('| task | metric | labels | mae |')


def test_grid_tool_prints_the_table_of_what_ran(tmp_path, capsys):
    tool = import_tool('downstream_grid', 'tools/analysis_tools')
    log_run(tmp_path / DownstreamCell('seg', 100, 'random', 1).name, mIoU=70.0)
    rows = tool.main(['--work-dir', str(tmp_path), '--tasks', 'seg', '--percents', '100',
                      '--seeds', '0', '1', '--table-only'])
    assert rows[0]['random'] == '70.0 (n=1)' and rows[0]['random seeds'] == '1'
    assert rows[0]['mae'] == 'not run'
    assert '70.0 (n=1)' in capsys.readouterr().out
    assert (tmp_path / 'table.md').read_text().startswith('| task |')


def test_grid_tool_runs_the_ddep_cells_and_names_a_missing_checkpoint(tmp_path, capsys):
    tool = import_tool('downstream_grid', 'tools/analysis_tools')
    ddep = tmp_path / 'ddep'
    for init, miou in (('ddep', 40.0), ('dep', 30.0), ('random', 35.0)):
        log_run(ddep / DownstreamCell('ddep', 10, init, 0).name, mIoU=miou)
    rows = tool.main(['--work-dir', str(ddep), '--tasks', 'ddep', '--percents', '10', '--seeds',
                      '0', '--inits', 'random', 'ddep', 'dep', 'mae', '--table-only'])
    assert list(rows[0])[3:] == ['ddep', 'ddep seeds', 'dep', 'dep seeds', 'random',
                                 'random seeds']  # 'mae' is no ddep init: left out
    assert (rows[0]['ddep'], rows[0]['dep'], rows[0]['random']) == (
        '40.0 (n=1)', '30.0 (n=1)', '35.0 (n=1)')
    mae = tmp_path / 'mae.pth'
    mae.touch()
    with pytest.raises(SystemExit):  # seed 1 is to run, and the DeP run is not there
        tool.main(['--work-dir', str(ddep), '--tasks', 'ddep', '--percents', '10', '--seeds',
                   '1', '--inits', 'dep', '--checkpoint', str(mae), '--dep-checkpoint',
                   str(tmp_path / 'dep' / 'epoch_5.pth')])
    assert 'dep/epoch_5.pth is missing (train the DeP config first)' in capsys.readouterr().err


def test_count_training_images(tmp_path):
    os.makedirs(tmp_path / 'images' / 'training')
    for i in range(3):
        (tmp_path / 'images' / 'training' / f'ADE_train_{i:08d}.jpg').touch()
    assert count_training_images('seg', str(tmp_path)) == 3
    os.makedirs(tmp_path / 'annotations')
    with open(tmp_path / 'annotations' / 'instances_train2017.json', 'w') as f:
        json.dump(dict(images=[dict(id=1), dict(id=2)]), f)
    assert count_training_images('det', str(tmp_path)) == 2
    with pytest.raises(FileNotFoundError, match='images/training'):
        count_training_images('seg', str(tmp_path / 'nowhere'))


def test_painting_blends_class_colours_and_keeps_the_rest():
    image = np.full((4, 4, 3), 100, dtype=np.uint8)
    classes = np.full((4, 4), -1)
    classes[0, 0], classes[1, 1] = 2, 11  # class 11 takes the palette's colour 1
    painted = paint_classes(image, classes, alpha=0.5)
    np.testing.assert_allclose(painted[0, 0], (0.5 * 100 + 0.5 * PALETTE[2]).astype(np.uint8))
    np.testing.assert_allclose(painted[1, 1], (0.5 * 100 + 0.5 * PALETTE[1]).astype(np.uint8))
    assert (painted[2:] == 100).all()
    masks = np.zeros((2, 4, 4), dtype=bool)
    masks[0, :2], masks[1, 1:3] = True, True  # the second instance lies on top
    on_top = paint_instances(image, masks, np.array([3, 4]), alpha=1.0)
    assert (on_top[1] == PALETTE[4]).all() and (on_top[0] == PALETTE[3]).all()


def test_grid_skips_a_cell_that_another_process_runs(tmp_path, capsys):
    """Two grids on one work dir: a cell whose grid.pid names a live process is left to it."""
    tool = import_tool('downstream_grid', 'tools/analysis_tools')
    (tmp_path / 'data' / 'images' / 'training').mkdir(parents=True)
    config = tmp_path / 'seg.py'
    config.write_text(f"data_root = '{tmp_path / 'data'}'\n")
    cell = DownstreamCell('seg', 100, 'random', 0)
    (tmp_path / 'work' / cell.name).mkdir(parents=True)
    (tmp_path / 'work' / cell.name / 'grid.pid').write_text(str(os.getpid()))
    rows = tool.main(['--work-dir', str(tmp_path / 'work'), '--tasks', 'seg', '--percents',
                      '100', '--inits', 'random', '--seeds', '0', '--seg-config', str(config)])
    assert f'skip {cell.name}: another process runs it' in capsys.readouterr().out
    assert rows[0]['random'] == 'not run'


def test_grid_checks_a_cell_when_a_slot_is_free_not_before(tmp_path, capsys):
    """With one slot, cell b waits for cell a. While it waits, another grid takes b (writes
    its grid.pid, here from a's command): this grid leaves b to it instead of running it twice."""
    from mimlab.experiments.runs import Grid, run_grid

    class TwoCells(Grid):
        def plan(self):
            return ['a', 'b']

        def folder(self, cell):
            return str(tmp_path / cell)

        def command(self, cell):
            folder_b = str(tmp_path / 'b')
            if cell == 'a':  # another grid starts b while a runs
                return [sys.executable, '-c', f'import os, time; os.makedirs({folder_b!r}, '
                        f'exist_ok=True); open(os.path.join({folder_b!r}, "grid.pid"), "w")'
                        f'.write("{os.getpid()}"); time.sleep(0.5)']
            return [sys.executable, '-c', f'open({str(tmp_path / "b_ran")!r}, "w")']

        def report(self, cells):
            return []

    run_grid(TwoCells(), jobs=1)
    assert 'skip b: another process runs it' in capsys.readouterr().out
    assert not (tmp_path / 'b_ran').exists()
    assert json.load(open(tmp_path / 'a' / 'usage.json'))['exit_code'] == 0


def test_ground_truth_readers_agree_on_the_same_scenes(tmp_path):
    """The pictures' ground truth: the ADE20K label maps and the COCO instances of the same
    generated scenes give the same class of every pixel, and boxes that hold their masks."""
    from conftest import FASHION_MNIST

    from mimlab.experiments.downstream.pictures import ade20k_ground_truth, coco_ground_truth
    from mimlab.datasets.scenes import garment_scenes, write_ade20k_layout, write_coco_layout
    scenes = garment_scenes(32, FASHION_MNIST)
    ade_root = write_ade20k_layout(str(tmp_path / 'ade'), 2, 3, seed=1, scenes=scenes)
    coco_root = write_coco_layout(str(tmp_path / 'coco'), 2, 3, seed=1, scenes=scenes)
    ade_paths, maps = ade20k_ground_truth(ade_root, 2)
    coco_paths, truths = coco_ground_truth(
        str(tmp_path / 'coco' / 'annotations' / 'instances_val2017.json'),
        osp.join(coco_root, 'val2017'), 2)
    assert len(maps) == len(truths) == 2 and all(osp.isfile(p) for p in ade_paths + coco_paths)
    for class_map, truth in zip(maps, truths):
        painted = np.full(class_map.shape, -1)
        for mask, label, box in zip(truth.masks, truth.labels, truth.boxes):
            painted[mask] = label
            ys, xs = np.nonzero(mask)
            np.testing.assert_allclose(box, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        np.testing.assert_array_equal(painted, class_map)
        assert class_map.min() == -1 and class_map.max() <= 9


def test_prediction_grid_renders_columns_boxes_and_legend():
    from mimlab.visualization.downstream import draw_prediction_grid
    image = np.full((16, 16, 3), 90, dtype=np.uint8)
    boxes = [None, [(np.array([[2.0, 2.0, 10.0, 12.0]]), np.array([3]), np.array([0.8]))]]
    picture = draw_prediction_grid([('input', [image]), ('run', [image])],
                                   [f'class {k}' for k in range(10)], boxes=boxes)
    assert picture.dtype == np.uint8 and picture.ndim == 3 and picture.shape[2] == 3
    # the box's edge is drawn in class 3's colour somewhere in the picture
    assert (np.abs(picture.astype(int) - PALETTE[3].astype(int)).sum(-1) < 30).any()
