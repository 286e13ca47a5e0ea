"""What a run left in its work dir, read in one place: the latest checkpoint (with the three
callers' contracts as parameters), the logged scalars and the final metrics."""
import json
import os
import time

import pytest

from mimlab.engine.workdir import (final_metrics, last_metric, latest_checkpoint, read_scalars,
                                   scalar_files)


def _log(work_dir, run, *records):
    folder = work_dir / run / 'vis_data'
    folder.mkdir(parents=True)
    (folder / 'scalars.json').write_text(''.join(json.dumps(r) + '\n' for r in records))


def test_latest_checkpoint_none_raise_or_fall_back(tmp_path):
    assert latest_checkpoint(str(tmp_path)) is None
    assert latest_checkpoint(str(tmp_path / 'missing'), fallback=True) is None
    with pytest.raises(FileNotFoundError, match=f'{tmp_path}/last_checkpoint is missing'):
        latest_checkpoint(str(tmp_path), required=True)
    old, new = tmp_path / 'epoch_1.pth', tmp_path / 'iter_20.pth'
    old.write_bytes(b'1')
    new.write_bytes(b'2')
    os.utime(old, (time.time() - 60,) * 2)
    (tmp_path / 'not_a_checkpoint.pth').write_bytes(b'3')
    # no pointer: only the fallback looks at the files, and takes the newest one
    assert latest_checkpoint(str(tmp_path)) is None
    assert latest_checkpoint(str(tmp_path), fallback=True) == str(new)
    (tmp_path / 'last_checkpoint').write_text(f'{old}\n')
    for options in ({}, dict(fallback=True), dict(required=True)):
        assert latest_checkpoint(str(tmp_path), **options) == str(old)
    # a pointer to a file that is gone: as written, or the newest file with the fallback
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_9.pth'))
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_9.pth')
    assert latest_checkpoint(str(tmp_path), fallback=True) == str(new)
    (tmp_path / 'last_checkpoint').write_text('')  # a kill while mmengine wrote it
    assert latest_checkpoint(str(tmp_path), fallback=True) == str(new)


def test_scalars_oldest_run_first_and_the_final_metrics_of_the_newest(tmp_path):
    _log(tmp_path, '20260101_000000', dict(loss=2.0, step=1), dict(mIoU=30.0, step=2))
    _log(tmp_path, '20260102_000000', dict(loss=1.0, step=3), dict(mIoU=40.0, aAcc=80.0, step=4),
         dict(mIoU=45.0, step=5))
    (tmp_path / '20260103_000000').mkdir()  # a run that logged nothing yet
    assert [p.split(os.sep)[-3] for p in scalar_files(str(tmp_path))] == [
        '20260101_000000', '20260102_000000']
    rows = read_scalars(str(tmp_path))
    assert [r['step'] for r in rows] == [1, 2, 3, 4, 5]
    assert [r['step'] for r in read_scalars(str(tmp_path), newest_run_only=True)] == [3, 4, 5]
    assert final_metrics(str(tmp_path), ['mIoU', 'aAcc', 'coco/bbox_mAP']) == dict(
        mIoU=45.0, aAcc=80.0)
    assert final_metrics(str(tmp_path / 'missing'), ['mIoU']) == {}
    assert last_metric(rows + [{'val/top1': 0.5}], 'top1') == 0.5
    assert last_metric(rows, 'mIoU') == 45.0 and last_metric(rows, 'top1') is None
