"""The GPU report (tools/analysis_tools/gpu_report.sh, mimlab/experiments/gpu_report.py) runs end
to end on the CPU with tiny models: every section measures, the JSON has the fields the docs
read, the markdown table is written; a failing section is recorded and the others still run."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from conftest import REPO

from mimlab.experiments import gpu_report

CONFIGS = {name: osp.join(REPO, 'configs/mae', f'mae_{arch}_8xb512-coslr-800e_in1k.py')
           for name, arch in (('vit-b', 'vit-base-p16'), ('vit-l', 'vit-large-p16'),
                              ('vit-h', 'vit-huge-p14'))}
TINY = dict(configs=CONFIGS, device='cpu', tiny=True, batch=4, large_batch=2, iters=2, warmup=1,
            workers=1, data_images=8, compile_opts=dict(backend='aot_eager'), budget_s=300)


@pytest.fixture(scope='module')
def report(tmp_path_factory):
    pytest.importorskip('skimage', reason='the JPEG folder is written from scikit-image photos')
    pytest.importorskip('mmpretrain', reason='the peer (requirements/benchmark.txt)')
    out = tmp_path_factory.mktemp('gpu_report')
    return gpu_report.run_report(out_dir=str(out), **TINY), out


def test_every_section_measures(report):
    result, _ = report
    assert {k: v['status'] for k, v in result['sections'].items()} == {
        k: 'ok' for k in ('vit-b', 'vit-b-compile', 'profile', 'peer', 'vit-l', 'vit-h', 'data')}
    assert result['seconds_used'] < result['budget_s']


def test_step_figures_are_consistent(report):
    result, _ = report
    for name in ('vit-b', 'vit-b-compile', 'peer'):
        r = result['sections'][name]['result']
        assert r['images_per_s'] == pytest.approx(r['batch_size'] / r['step_s_median'])
        assert r['achieved_tflops'] * 1e12 == pytest.approx(r['flops_per_image']
                                                            * r['images_per_s'])
        assert r['mfu'] == pytest.approx(r['achieved_tflops'] / result['peak_tflops'])
        assert r['peak_memory_gib'] > 0
    eager, compiled = (result['sections'][k]['result'] for k in ('vit-b', 'vit-b-compile'))
    # the same model: the same counted FLOPs, compiled or not
    assert compiled['flops_per_image'] == eager['flops_per_image']
    assert compiled['compile'] == {'backend': 'aot_eager'} and eager['compile'] is False
    peer = result['sections']['peer']['result']
    ratio = result['ratio_to_mmpretrain']
    assert ratio['eager'] == pytest.approx(eager['images_per_s'] / peer['images_per_s'])
    assert ratio['best'] == max(ratio['eager'], ratio['compiled'])


def test_large_models_data_and_profile(report):
    result, _ = report
    for name in ('vit-l', 'vit-h'):
        runs = result['sections'][name]['result']
        assert runs['plain']['fits'] and runs['plain']['images_per_s'] > 0
    data = result['sections']['data']['result']
    assert data['cpu_pipeline']['images_per_s'] > 0 and data['cpu_pipeline']['workers'] == 1
    assert 'data_wait_fraction_estimate' in data
    # the device-decode lever runs (on the CPU here): normalised crops of the model's size
    assert data['device_decode']['output_shape'] == [4, 3, 32, 32]
    prof = result['sections']['profile']['result']
    assert prof['top_kernels'] and abs(sum(prof['share_by_category'].values()) - 1) < 1e-6


def test_markdown_table_is_written(report):
    result, out = report
    text = open(osp.join(out, 'report.md')).read()
    assert text == gpu_report.markdown(json.load(open(osp.join(out, 'report.json'))))
    assert '| mimlab MAE ViT-B/16, bf16, fused AdamW, flash SDPA, eager | 4 |' in text
    assert 'mimlab / mmpretrain images/s: best' in text and 'MAE ViT-H/14, plain' in text
    assert '| JPEG pipeline on the CPU (32 px crops) | 1 |' in text and 'Not measured' not in text


def test_a_failing_section_is_recorded_and_the_rest_runs(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError('out of luck')

    monkeypatch.setattr(gpu_report, 'measure_peer', broken)
    monkeypatch.setattr(gpu_report, 'measure_large', broken)
    monkeypatch.setattr(gpu_report, 'measure_data', broken)
    result = gpu_report.run_report(out_dir=str(tmp_path), **dict(
        TINY, compile_opts=False))
    sections = result['sections']
    assert sections['peer']['status'] == 'error' and 'out of luck' in sections['peer']['error']
    assert sections['vit-b']['status'] == 'ok' and 'ratio_to_mmpretrain' not in result
    assert '- peer: error: RuntimeError: out of luck' in open(tmp_path / 'report.md').read()
    # a section that would not fit the budget is skipped, not started
    skipped = gpu_report.run_report(out_dir=str(tmp_path / 'b'), **dict(TINY, budget_s=1))
    assert all(s['status'] == 'skipped' for s in skipped['sections'].values())


WHEELS = osp.join(REPO, '.cache/gpu_wheels')


@pytest.mark.skipif(not glob.glob(osp.join(WHEELS, 'mmcv*-2.1.0-*.whl')),
                    reason='no carried wheels: tools/install/build_gpu_wheels.sh builds them')
def test_gpu_report_sh_installs_the_carried_wheels_and_runs(tmp_path):
    site = tmp_path / 'site'
    env = dict(os.environ, PY=sys.executable, GPU_SITE=str(site), GPU_REPORT_INSTALL='always')
    proc = subprocess.run(
        [osp.join(REPO, 'tools/analysis_tools/gpu_report.sh'), '--device', 'cpu', '--tiny',
         '--batch', '2', '--large-batch', '2', '--iters', '1', '--warmup', '1', '--workers',
         '0', '--data-images', '4', '--compile-backend', 'eager', '--threads', '1',
         '--out-dir', str(tmp_path / 'out')], env=env, capture_output=True, text=True,
        timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'installed' in proc.stdout and '| mmcv 2.1.0 | mmpretrain 1.2.0' in proc.stdout
    # the carried mmcv is the one without compiled ops, unpacked into GPU_SITE
    assert (site / 'mmcv').is_dir() and not glob.glob(str(site / 'mmcv' / '_ext*'))
    assert json.load(open(tmp_path / 'out' / 'report.json'))['sections']['vit-b']['status'] == 'ok'
