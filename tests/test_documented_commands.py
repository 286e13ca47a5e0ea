"""The commands of README.md and docs/get_started.md that take a data folder, run as typed on
generated folders (what is added to a command for the test is said beside it), and the small
things a user meets on the way: pretraining on a folder with only training images, the end-of-run
summary, Ctrl-C, the picture tool's bad-image error, export_backbone's timm arguments,
--auto-scale-lr's log, a DDeP config on an own folder."""
import os
import os.path as osp
import re
import shlex
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import DEMO_CONFIG, REPO, TINY_RUN_OPTIONS
from PIL import Image

from mimlab.apis import init_model
from mimlab.apis.train import summary
from mimlab.models.utils import Encoding
from test_own_data import TINY_IN1K, make_folder, run

IN1K_CONFIG = 'configs/mae/mae_vit-base-p16_8xb512-coslr-800e_in1k.py'
# what every MAE ImageNet run below adds: one epoch, its own work dir, the tiny model
SHORT = ['train_cfg.max_epochs=1', *TINY_IN1K]


def doc_commands(path: str, start: str = None, end: str = None):
    """The `python ...` command lines of a markdown file's bash blocks (between the headings
    ``start`` and ``end``), continued lines joined, comments dropped."""
    text = open(osp.join(REPO, path)).read()
    if start:
        text = text[text.index(start):text.index(end) if end else None]
    blocks = re.findall(r'```bash\n(.*?)```', text, re.S)
    commands = []
    for block in blocks:
        for line in block.replace('\\\n', ' ').splitlines():
            line = re.sub(' +', ' ', line.split('#')[0]).strip()
            if line.startswith('python '):
                commands.append(line)
    return commands


def held_out_warnings(proc):
    return [line for line in (proc.stdout + proc.stderr).splitlines()
            if 'no held-out images' in line]


@pytest.fixture(scope='module')
def only_train(tmp_path_factory):
    """An ImageNet-style folder with train/ only (no val/ or test/)."""
    return make_folder(tmp_path_factory.mktemp('data') / 'imagenet', splits=('train',),
                       per_class=(6,))


@pytest.fixture(scope='module')
def readme_run(only_train, tmp_path_factory):
    """README's ImageNet pretraining command, as typed, on a folder with only train/."""
    command = next(c for c in doc_commands('README.md') if c.startswith('python tools/train.py'))
    assert command == (f'python tools/train.py {IN1K_CONFIG} --cfg-options '
                       'train_dataloader.dataset.data_root=/data/imagenet')
    work = str(tmp_path_factory.mktemp('readme'))
    proc = run(f'{command.replace("/data/imagenet", only_train)} {" ".join(SHORT)} '
               f'--work-dir {work}')
    return work, proc


def test_readme_pretraining_needs_only_training_images(readme_run, only_train):
    """Before: refused, test_dataloader.dataset.data_root='data/imagenet' is not a folder."""
    work, proc = readme_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    warnings = held_out_warnings(proc)
    assert len(warnings) == 1, proc.stdout[-3000:]
    assert "split 'val' does not exist" in warnings[0]
    assert 'train_dataloader.dataset.data_root' in warnings[0]
    assert 'custom_hooks.0.split' in warnings[0]
    # the summary names only what exists: no pictures were drawn
    summary = proc.stdout[proc.stdout.index('Training finished.'):]
    assert 'pictures' not in summary and not osp.exists(osp.join(work, 'vis'))
    assert f'last checkpoint: {osp.join(work, "epoch_1.pth")}' in summary


def test_data_root_flag_on_a_folder_with_only_train(only_train, tmp_path):
    """Before: the reconstruction hook stopped the run, split 'val' does not exist."""
    proc = run(f'python tools/train.py {IN1K_CONFIG} --data-root {only_train} '
               f'--work-dir {tmp_path} --cfg-options {" ".join(SHORT)}')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(held_out_warnings(proc)) == 1
    assert (tmp_path / 'epoch_1.pth').exists()


def test_demo_config_on_a_folder_with_only_train(only_train, tmp_path):
    """The Fashion-MNIST demo config pointed at an own folder (its hook reads split 'test')."""
    proc = run(f'python tools/train.py {DEMO_CONFIG} --work-dir {tmp_path} --cfg-options '
               f'train_dataloader.dataset.data_root={only_train} {" ".join(TINY_RUN_OPTIONS)} '
               'train_cfg.max_epochs=1 train_dataloader.dataset.indices=None '
               'train_dataloader.batch_size=4')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(held_out_warnings(proc)) == 1


def test_plain_folder_of_images(tmp_path):
    """A plain folder of images (no split folders) trains; the summary names the pictures
    folder exactly when the run drew pictures."""
    folder = tmp_path / 'photos'
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3)).astype(np.uint8)).save(
            folder / f'{i}.png')
    work = tmp_path / 'work'
    proc = run(f'python tools/train.py {IN1K_CONFIG} --data-root {folder} --work-dir {work} '
               f'--cfg-options {" ".join(SHORT)}')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (work / 'epoch_1.pth').exists()
    drawn = (work / 'vis' / 'reconstruction_latest.png').exists()
    assert drawn != bool(held_out_warnings(proc))
    assert (f'pictures:        {work / "vis"}' in proc.stdout) == drawn


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A work dir of the tiny ImageNet recipe, one epoch on a folder with train/ and val/."""
    folder = make_folder(tmp_path_factory.mktemp('data') / 'my_images')
    work = str(tmp_path_factory.mktemp('trained'))
    proc = run(f'python tools/train.py {IN1K_CONFIG} --data-root {folder} --work-dir {work} '
               f'--cfg-options {" ".join(SHORT)}')
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work


def test_summary_names_only_folders_that_exist(tmp_path):
    runner = SimpleNamespace(log_dir=str(tmp_path / 'log'))
    text = summary(runner, str(tmp_path))
    assert 'pictures' not in text and 'log:' not in text
    assert 'last checkpoint: (none saved)' in text
    (tmp_path / 'vis').mkdir()
    (tmp_path / 'log').mkdir()
    text = summary(runner, str(tmp_path))
    assert f'pictures:        {tmp_path / "vis"}' in text
    assert f'log:             {tmp_path / "log"}' in text


def test_picture_tool_bad_image_is_one_line(trained, tmp_path):
    work = trained
    bad = tmp_path / 'photo.jpg'
    bad.write_text('not an image')
    config = osp.join(work, osp.basename(IN1K_CONFIG))
    proc = run(f'python tools/analysis_tools/visualize_reconstruction.py {config} '
               f'{work}/epoch_1.pth {bad} --out {tmp_path}/rec.png')
    assert proc.returncode == 1
    message = proc.stderr.strip()
    assert '\n' not in message and str(bad) in message and 'Traceback' not in proc.stderr


def test_export_backbone_prints_the_timm_arguments(trained, tmp_path):
    """The printed constructor rebuilds the encoder in timm: the exported file loads strictly
    and gives the features of mimlab's encoder (``model(x, mode='tensor')``: an
    Encoding whose ``tokens`` are the normed cls + patch tokens)."""
    timm = pytest.importorskip('timm')
    work = trained
    out = tmp_path / 'vit.pth'
    proc = run(f'python tools/model_converters/export_backbone.py {work}/epoch_1.pth {out}')
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(text for text in proc.stdout.splitlines()
                if text.startswith('rebuild it in timm: '))
    constructor = re.search(r'model = (timm\.models\.vision_transformer\.VisionTransformer'
                            r'\(.*?\));', line).group(1)
    assert 'num_heads=3' in constructor and 'img_size=32' in constructor
    model = eval(constructor, {'timm': timm})
    model.load_state_dict(torch.load(out, weights_only=True))  # strict
    model.eval()
    mimlab_model = init_model(osp.join(work, osp.basename(IN1K_CONFIG)), f'{work}/epoch_1.pth')
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        encoded = mimlab_model(x, mode='tensor')
        features = model.forward_features(x)
    assert isinstance(encoded, Encoding) and encoded.tokens.shape == (2, 5, 192)
    torch.testing.assert_close(features, encoded.tokens, atol=1e-5, rtol=1e-4)


def test_auto_scale_lr_logs_the_factor_and_the_lr(tmp_path):
    proc = run(f'python tools/train.py {DEMO_CONFIG} --work-dir {tmp_path} --auto-scale-lr '
               f'--cfg-options {" ".join(TINY_RUN_OPTIONS)} train_cfg.max_epochs=1')
    assert proc.returncode == 0, proc.stderr[-3000:]
    # batch 16 on one process / base batch 256; the demo's lr 1.5e-3
    assert ('--auto-scale-lr: total batch 16 (1 process(es) x 16) / '
            'auto_scale_lr.base_batch_size 256 = factor 0.0625: optim_wrapper.optimizer.lr '
            '0.0015 -> 9.375e-05') in proc.stdout + proc.stderr


def test_ctrl_c_prints_the_resume_command(tmp_path):
    """SIGINT during training: one line with the resume command (no traceback), status 130."""
    argv = [DEMO_CONFIG, '--work-dir', str(tmp_path), '--cfg-options', *TINY_RUN_OPTIONS,
            'train_cfg.max_epochs=200']
    # SIGINT as in a terminal, also when a shell started the suite with it ignored
    proc = subprocess.Popen([sys.executable, osp.join(REPO, 'tools/train.py'), *argv], cwd=REPO,
                            env=dict(os.environ, PYTHONPATH=REPO), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not (tmp_path / 'epoch_1.pth').exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-3000:]
    assert 'Traceback' not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith('interrupted; ')]
    assert len(lines) == 1
    assert re.search(r'the last checkpoint is .*epoch_\d+\.pth', lines[0])
    command = lines[0].split('continue with: ')[1]
    assert shlex.split(command) == ['python', 'tools/train.py', *argv, '--resume']


def test_resume_command_replaces_a_given_resume():
    from mimlab.engine.resume import resume_command
    assert resume_command(['c.py', '--resume', 'w/epoch_1.pth', '--amp']) == \
        'python tools/train.py c.py --amp --resume'
    assert resume_command(['c.py', '--resume', '--work-dir', 'w x']) == \
        "python tools/train.py c.py --work-dir 'w x' --resume"


def test_ddep_config_on_an_own_folder(tmp_path):
    """The DDeP demo config (ADE20K's split names, 'training'/'validation') on an own folder with
    train/ and val/, with only --data-root (before: split 'training' does not exist, so
    train_dataloader.dataset.split=train had to be added). Added for the test: random init
    (the demo encoder is not trained here), one epoch, batch 4."""
    folder = make_folder(tmp_path / 'scenes', size=64)
    proc = run(f'python tools/train.py '
               'configs/ddep/ddep_vit-tiny-p4-unet_1xb32-adam-coslr-5e_garments-64px.py '
               f'--data-root {folder} --work-dir {tmp_path}/work --cfg-options '
               'model.backbone.init_cfg=None train_cfg.max_epochs=1 train_dataloader.batch_size=4')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / 'work' / 'epoch_1.pth').exists()


def test_one_process_mask_rcnn_command_with_its_data(tmp_path):
    """get_started's one-process Mask R-CNN command, after the generator command it gives,
    both run as typed in a fresh folder. Added for the test: random init (the `make demo`
    encoder is not trained here; the docs give the option), one epoch of 8 training and 4
    validation scenes."""
    pytest.importorskip('mmdet')
    commands = doc_commands('docs/get_started.md', 'Downstream on one process', '## Multi-GPU')
    generate, train = commands
    assert generate.startswith('python tools/dataset_converters/generate_scenes.py shapes coco '
                               'data/demo/coco')
    assert train == ('python tools/train.py configs/benchmarks/mmdet/'
                     'mask-rcnn_mae-vit-tiny-p4_1xb4-lsj-2e_coco-layout-64x64.py')
    proc = run(generate, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / 'data/demo/coco/annotations/instances_val2017.json').exists()
    config = osp.join(REPO, train.split()[-1])
    proc = run(f'python tools/train.py {config} --cfg-options model.backbone.init_cfg=None '
               'train_cfg.max_epochs=1 train_dataloader.dataset.dataset.indices=8 '
               'val_dataloader.dataset.indices=4', cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'Epoch(val) [1]' in proc.stdout
    assert (tmp_path / 'work_dirs' / osp.splitext(osp.basename(config))[0] / 'epoch_1.pth').exists()
    # its lr steps down at a fixed epoch (1 of 2): a longer run (of the 400 scenes: 100
    # iterations an epoch, past the 30-step warm-up) is refused before it trains
    proc = run(f'python tools/train.py {config} --cfg-options model.backbone.init_cfg=None '
               'train_cfg.max_epochs=4', cwd=str(tmp_path))
    assert proc.returncode == 1
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith('train_cfg.max_epochs=4 outlasts the lr schedule: param_scheduler.1 '
                              '(MultiStepLR) ends at epoch 2')
    assert '--cfg-options param_scheduler.1.end=4' in message


def test_missing_tokenizer_names_where_its_weights_come_from():
    """The CAE ImageNet config's tokenizer (DALL-E's encoder) missing: the error names OpenAI's
    weights and dalle_to_mimlab.py, not the demo dVAE; the demo dVAE's names its own config."""
    from mmengine.config import Config

    from mimlab.models.heads import DVAETokenHead
    from mimlab.models.utils import EncoderSpec, TokenLayout
    cfg = Config.fromfile(osp.join(REPO, 'configs/cae/cae_vit-base-p16_8xb256-coslr-800e_in1k.py'))
    tokenizer = dict(cfg.model.head.tokenizer, group_count=2, n_hid=8, n_blk_per_group=1,
                     vocab_size=16)  # the published sizes made small; the same init_cfg
    spec = EncoderSpec(in_chans=3, tokens=TokenLayout(embed_dim=32, depth=2, num_heads=2,
                                                      patch_size=8, grid_size=(2, 2)))
    with pytest.raises(FileNotFoundError) as err:
        DVAETokenHead(spec, tokenizer).init_weights()
    message = str(err.value)
    assert message.startswith("model.head.tokenizer.init_cfg.checkpoint='checkpoints/"
                              "dalle_encoder.pth' does not exist.")
    assert 'cdn.openai.com/dall-e/encoder.pkl' in message
    assert 'tools/model_converters/dalle_to_mimlab.py encoder.pkl checkpoints/dalle_encoder.pth' \
        in message and 'demo dVAE' not in message
    dvae = dict(type='DiscreteVAE', vocab_size=16, hidden_dim=8, code_dim=8, num_downsamples=3,
                init_cfg=dict(type='Pretrained', checkpoint='work_dirs/no_dvae/epoch_3.pth'))
    with pytest.raises(FileNotFoundError, match='the demo dVAE: configs/dvae/'):
        DVAETokenHead(spec, dvae).init_weights()
