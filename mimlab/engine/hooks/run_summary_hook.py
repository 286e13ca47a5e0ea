"""One summary row per run: ``{work_dir}/summary.json`` at the end of training."""
import json
import os
import os.path as osp
import platform
import subprocess
import time
from datetime import datetime, timezone
from typing import Optional

import torch
from mmengine.dist import get_world_size, is_main_process
from mmengine.hooks import Hook

from mimlab.registry import HOOKS
from mimlab.utils.profiling import peak_rss_bytes
from ..checkpoint import write_json
from ..workdir import latest_checkpoint

SUMMARY_FILE = 'summary.json'


def git_commit(path: str) -> Optional[str]:
    """The commit of the git checkout holding ``path`` (with '+dirty' when tracked files
    changed), or None outside a checkout."""
    try:
        commit = subprocess.run(['git', '-C', path, 'rev-parse', 'HEAD'], capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(['git', '-C', path, 'status', '--porcelain', '--untracked-files=no'],
                               capture_output=True, text=True, check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ('+dirty' if dirty.strip() else '')


def cpu_name() -> str:
    """'cpu (<model name>, N cores)' from /proc/cpuinfo, or the platform's machine type."""
    name = platform.machine()
    if osp.isfile('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            models = [line.split(':', 1)[1].strip() for line in f
                      if line.startswith('model name')]
        name = models[0] if models else name
    return f'cpu ({name}, {os.cpu_count()} cores)'


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec='seconds')


@HOOKS.register_module()
class RunSummaryHook(Hook):
    """At the end of training write ``{work_dir}/summary.json`` (main process): the config
    file, the git commit of the mimlab checkout, start and end time (UTC) and wall time of the
    run, images/s (images of all processes trained / the wall time,
    evaluation and checkpoints included), peak memory (``torch.cuda.max_memory_allocated`` on a
    GPU, else the peak RSS of the main process), the final training loss, the final online kNN
    accuracy (``online/knn_top1`` of :class:`OnlineKNNHook`, None without it), the last
    checkpoint (the one ``--resume`` would continue from), torch, CUDA and the device.
    ``tools/analysis_tools/collect_summaries.py`` makes a table of many.

    A resumed session that continues where the summary's run ended adds to it (wall time,
    images, iterations, ``sessions``; one row per run); a session that trains nothing (a
    finished run started again) leaves it as it is."""
    priority = 'LOWEST'  # after CheckpointHook has saved the last checkpoint

    def __init__(self) -> None:
        self._start = 0.0
        self._started_at = ''
        self._images = 0
        self._first_iter = 0

    def before_train(self, runner) -> None:
        self._start, self._started_at = time.perf_counter(), _now()
        self._images, self._first_iter = 0, runner.iter
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if data_batch is not None:
            self._images += len(data_batch['inputs']) * get_world_size()

    def after_train(self, runner) -> None:
        if not is_main_process():
            return
        wall = time.perf_counter() - self._start
        hub = runner.message_hub
        cuda = torch.cuda.is_available()
        summary = dict(
            config=runner.cfg.filename,
            experiment=runner.experiment_name,
            git_commit=git_commit(osp.dirname(osp.abspath(__file__))),
            start_time=self._started_at,
            end_time=_now(),
            wall_time_s=round(wall, 2),
            iters=runner.iter - self._first_iter,
            total_iters=runner.iter,
            epochs=runner.epoch,
            images=self._images,
            images_per_s=round(self._images / wall, 2) if wall > 0 else None,
            peak_memory_bytes=(torch.cuda.max_memory_allocated() if cuda else peak_rss_bytes()),
            peak_memory_kind=('torch.cuda.max_memory_allocated' if cuda
                              else 'peak RSS of the main process'),
            final_loss=(hub.get_scalar('train/loss').current()
                        if 'train/loss' in hub.log_scalars else None),
            final_knn_top1=(hub.get_scalar('online/knn_top1').current()
                            if 'online/knn_top1' in hub.log_scalars else None),
            checkpoint=latest_checkpoint(runner.work_dir, fallback=True),
            torch=torch.__version__,
            cuda=torch.version.cuda if cuda else None,
            device=torch.cuda.get_device_name() if cuda else cpu_name(),
            world_size=get_world_size(),
        )
        path = osp.join(runner.work_dir, SUMMARY_FILE)
        previous = _read_summary(path)
        if previous is not None and summary['iters'] == 0:
            # a finished run started again (`make demo` twice): it trained nothing to describe
            runner.logger.info(f'run summary: {path} kept (this session trained no iteration)')
            return
        if previous is not None and self._first_iter > 0 and \
                previous.get('total_iters') == self._first_iter:
            summary = _continued(previous, summary)
        write_json(path, summary)
        runner.logger.info(f'run summary: {path}')


def _read_summary(path: str) -> Optional[dict]:
    if not osp.isfile(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _continued(previous: dict, session: dict) -> dict:
    """The summary of a run resumed where ``previous`` ended: one row for the whole run (its
    first start, the sessions' wall times, images and iterations added, the highest peak memory),
    the rest from the latest session."""
    run = dict(session)
    run['start_time'] = previous.get('start_time', session['start_time'])
    run['sessions'] = previous.get('sessions', 1) + 1
    for key in ('wall_time_s', 'iters', 'images'):
        run[key] = round(previous.get(key, 0) + session[key], 2)
    run['images_per_s'] = round(run['images'] / run['wall_time_s'], 2) \
        if run['wall_time_s'] > 0 else None
    run['peak_memory_bytes'] = max(previous.get('peak_memory_bytes') or 0,
                                   session['peak_memory_bytes'])
    return run
