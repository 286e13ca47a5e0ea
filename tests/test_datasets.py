import gzip
import os
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import FASHION_MNIST
from PIL import Image

from mimlab.datasets import ImageDataset, read_idx
from mimlab.datasets.transforms import (BadImageError, CenterCrop, LoadImage, PackInputs,
                                        RandomResizedCrop, ResizeShortEdge, read_image)
from mimlab.registry import TRANSFORMS

PIPELINE = [dict(type='LoadImage'), dict(type='RandomResizedCrop', size=16, scale=(0.5, 1.0)),
            dict(type='mmcv.RandomFlip', prob=0.5), dict(type='PackInputs')]


def test_read_idx_parses_fashion_mnist():
    images = read_idx(osp.join(FASHION_MNIST, 't10k-images-idx3-ubyte.gz'))
    labels = read_idx(osp.join(FASHION_MNIST, 't10k-labels-idx1-ubyte.gz'))
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,)
    assert np.bincount(labels).tolist() == [1000] * 10  # the test set is balanced
    # real images: dark background, bright object (not noise, not all zeros)
    assert images[:, 0, 0].mean() < 5 and images[:, 14, 14].mean() > 80


def test_read_idx_rejects_other_files(tmp_path):
    bad = tmp_path / 'x-images-idx3-ubyte.gz'
    with gzip.open(bad, 'wb') as f:
        f.write(b'\x89PNG not an idx file')
    with pytest.raises(ValueError, match='not an idx file'):
        read_idx(str(bad))


def test_fashion_mnist_dataset_through_the_pipeline():
    ds = ImageDataset(FASHION_MNIST, split='test', pipeline=PIPELINE, indices=10)
    assert len(ds) == 10
    assert ds.metainfo['classes'][9] == 'Ankle boot'
    sample = ds[0]
    assert sample['inputs'].shape == (3, 16, 16) and sample['inputs'].dtype == torch.uint8
    assert int(sample['data_samples'].gt_label) == 9  # the first t10k image is an ankle boot
    full = ImageDataset(FASHION_MNIST, split='train')
    assert len(full) == 60000


def _write_folder(root, layout):
    rng = np.random.default_rng(0)
    for rel, mode in layout.items():
        path = osp.join(root, rel)
        os.makedirs(osp.dirname(path), exist_ok=True)
        if mode == 'RGB':
            Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(path)
        elif mode == 'L':
            Image.fromarray(rng.integers(0, 255, (20, 24), dtype=np.uint8)).save(path)
        elif mode == 'I;16':
            Image.fromarray(rng.integers(0, 65535, (20, 24), dtype=np.uint16)).save(path)
        elif mode == 'text':
            with open(path, 'w') as f:
                f.write('not an image')
        elif mode == 'broken':
            with open(path, 'wb') as f:
                f.write(b'\xff\xd8\xff\xe0 truncated jpeg')


def test_imagenet_style_folder(tmp_path):
    _write_folder(tmp_path, {'train/cat/a.jpg': 'RGB', 'train/cat/b.png': 'L',
                             'train/dog/c.png': 'I;16', 'train/dog/notes.txt': 'text',
                             'val/cat/d.jpg': 'RGB'})
    ds = ImageDataset(str(tmp_path), split='train', pipeline=PIPELINE)
    assert ds.metainfo['classes'] == ('cat', 'dog')
    assert [int(ds[i]['data_samples'].gt_label) for i in range(len(ds))] == [0, 0, 1]
    for i in range(3):  # colour, greyscale and 16-bit all arrive as 3 x 16 x 16 uint8
        assert ds[i]['inputs'].shape == (3, 16, 16) and ds[i]['inputs'].dtype == torch.uint8
    assert len(ImageDataset(str(tmp_path), split='val')) == 1


def test_plain_folder_without_labels(tmp_path):
    _write_folder(tmp_path, {'x.jpg': 'RGB', 'y.png': 'RGB'})
    ds = ImageDataset(str(tmp_path), split='train', pipeline=PIPELINE)
    assert len(ds) == 2 and int(ds[0]['data_samples'].gt_label) == -1


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match='is not a folder'):
        ImageDataset(str(tmp_path / 'missing'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='no images found'):
        ImageDataset(str(tmp_path / 'empty'))
    _write_folder(tmp_path / 'bad', {'train/a/broken.jpg': 'broken'})
    with pytest.raises(BadImageError, match='broken.jpg'):
        LoadImage()(dict(img_path=str(tmp_path / 'bad/train/a/broken.jpg')))


def test_random_resized_crop_respects_scale_and_ratio():
    np.random.seed(0)
    t = RandomResizedCrop(size=8, scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3))
    areas = []
    for _ in range(300):
        top, left, h, w = t.crop_box(100, 100)
        assert 0 <= top and top + h <= 100 and 0 <= left and left + w <= 100
        assert 3 / 4 - 0.05 <= w / h <= 4 / 3 + 0.05
        areas.append(h * w / 1e4)
    assert 0.19 <= min(areas) < 0.3 and max(areas) > 0.9
    out = t(dict(img=np.zeros((100, 60, 3), np.uint8)))
    assert out['img'].shape == (8, 8, 3)


def test_resize_and_center_crop():
    img = np.zeros((40, 80, 3), np.uint8)
    img[:, 40:] = 255
    out = CenterCrop(20)(ResizeShortEdge(20)(dict(img=img)))
    assert out['img'].shape == (20, 20, 3)
    # the crop is centred: left half dark, right half bright
    assert out['img'][:, :8].mean() < 10 and out['img'][:, 12:].mean() > 245
    with pytest.raises(BadImageError, match='at least that large'):
        CenterCrop(50)(dict(img=img))


def one_over_f_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """(h, w, 3) uint8 with a 1/f amplitude spectrum (the statistics of natural images)."""
    rng = np.random.default_rng(seed)
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None]
    f = np.hypot(fy, fx)
    f[0, 0] = 1.0
    planes = []
    for _ in range(3):
        spectrum = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f
        plane = np.fft.irfft2(spectrum, s=(h, w))
        planes.append((plane - plane.min()) / (plane.max() - plane.min()) * 255)
    return np.stack(planes, -1).round().astype(np.uint8)


def energy_beyond(img: np.ndarray, radius: float) -> float:
    """Share of the grey image's spectral energy (mean removed) beyond ``radius`` cycles per
    image from the centre of the shifted 2-D spectrum."""
    grey = img.astype(np.float64).mean(-1)
    power = np.abs(np.fft.fftshift(np.fft.fft2(grey - grey.mean()))) ** 2
    h, w = grey.shape
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot(yy - h // 2, xx - w // 2)
    return float(power[r > radius].sum() / power.sum())


@pytest.mark.parametrize('interpolation', ['bilinear', 'bicubic'])
def test_every_resize_matches_pil_on_the_same_crop_box(interpolation):
    """RandomResizedCrop and ResizeShortEdge resize as torchvision on PIL images (MAE's,
    PixMIM's and MFF's pipelines): PIL's antialiased filter on the same crop box, within one grey
    level; an upscale too. cv2's resize (what they used before) aliases on a downscale."""
    import cv2
    img = one_over_f_image(375, 500)
    np.random.seed(0)
    rrc = RandomResizedCrop(224, scale=(0.2, 1.0), interpolation=interpolation)
    filt = {'bilinear': Image.BILINEAR, 'bicubic': Image.BICUBIC}[interpolation]
    for _ in range(4):
        out = rrc(dict(img=img))
        left, top, right, bottom = out['crop_bbox']
        # torchvision's F.resized_crop on a PIL image: crop, then resize
        ref = np.asarray(Image.fromarray(img).crop((left, top, right, bottom)).resize(
            (224, 224), filt))
        assert np.abs(out['img'].astype(int) - ref).max() <= 1
    short = ResizeShortEdge(224, interpolation=interpolation)(dict(img=img))['img']
    ref = np.asarray(Image.fromarray(img).resize((299, 224), filt))  # 500 x 375 -> 299 x 224
    assert short.shape == (224, 299, 3) and np.abs(short.astype(int) - ref).max() <= 1
    grey = img[..., :1]  # one channel (Fashion-MNIST), upscaled
    up = ResizeShortEdge(600, interpolation=interpolation)(dict(img=grey[:100, :100]))['img']
    ref = np.asarray(Image.fromarray(grey[:100, :100, 0]).resize((600, 600), filt))
    assert up.shape == (600, 600, 1) and np.abs(up[..., 0].astype(int) - ref).max() <= 1
    cv = cv2.resize(img, (299, 224), interpolation={'bilinear': cv2.INTER_LINEAR,
                                                    'bicubic': cv2.INTER_CUBIC}[interpolation])
    assert np.abs(cv.astype(int) - short).max() > 10  # what cv2 gave: another picture


def test_downscale_keeps_the_spectrum_of_pil_not_cv2():
    """A 375 -> 224 resize of a 1/f image: the share of spectral energy beyond radius 40 (PixMIM's
    low-pass radius) is PIL's (antialiased), not cv2 bilinear's (aliased, more high frequency)."""
    import cv2
    img = one_over_f_image(375, 375, seed=1)
    ours = ResizeShortEdge(224, interpolation='bilinear')(dict(img=img))['img']
    pil = np.asarray(Image.fromarray(img).resize((224, 224), Image.BILINEAR))
    cv = cv2.resize(img, (224, 224), interpolation=cv2.INTER_LINEAR)
    e_ours, e_pil, e_cv = (energy_beyond(x, 40) for x in (ours, pil, cv))
    assert abs(e_ours - e_pil) < 0.005
    assert e_cv > e_pil + 0.04, (e_cv, e_pil)


def test_pack_inputs_keeps_uint8_chw():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    packed = PackInputs()(dict(img=img, gt_label=4, img_path='p.png'))
    assert packed['inputs'].dtype == torch.uint8
    assert torch.equal(packed['inputs'][1], torch.from_numpy(img[:, :, 1]))
    assert packed['data_samples'].img_path == 'p.png' and int(packed['data_samples'].gt_label) == 4
    assert TRANSFORMS.get('RandomResizedCrop') is RandomResizedCrop


def _bad_files(folder) -> dict:
    """name -> the reason LoadImage gives, for files it must refuse."""
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(folder / 'ok.jpg')
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(folder / 'ok.png')
    jpg, png = (folder / 'ok.jpg').read_bytes(), (folder / 'ok.png').read_bytes()
    files = {'cut_at_half.jpg': jpg[:len(jpg) // 2], 'cut_near_end.jpg': jpg[:-40],
             'cut.png': png[:len(png) // 2], 'no_iend.png': png[:-12], 'empty.jpg': b'',
             'notes.png': b'not an image\n', 'pdf.jpg': b'%PDF-1.4 ...'}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {name: 'the file is empty' if not data else 'not an image, or a corrupt or '
            'truncated file' for name, data in files.items()}


def test_bad_image_files_give_an_error_naming_the_file(tmp_path):
    for name, reason in _bad_files(tmp_path).items():
        path = str(tmp_path / name)
        with pytest.raises(BadImageError) as err:
            LoadImage()(dict(img_path=path))
        assert path in str(err.value) and reason in str(err.value), name
    with pytest.raises(BadImageError, match=f'cannot read image {tmp_path}/gone.jpg: No such'):
        LoadImage()(dict(img_path=str(tmp_path / 'gone.jpg')))
    Image.new('RGB', (3, 2)).save(tmp_path / 'tiny.png')
    with pytest.raises(BadImageError, match=r'tiny.png is 2x3 pixels, smaller than '
                       r'LoadImage\(min_size=8\)'):
        LoadImage(min_size=8)(dict(img_path=str(tmp_path / 'tiny.png')))
    with pytest.raises(BadImageError, match='tiny.png'):  # the test pipeline's crop
        CenterCrop(8)(LoadImage()(dict(img_path=str(tmp_path / 'tiny.png'))))


def test_unusual_image_modes_decode_to_the_same_rgb(tmp_path):
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)
    grey16 = rng.integers(0, 65535, (20, 24), dtype=np.uint16)
    Image.fromarray(rgb).convert('CMYK').save(tmp_path / 'cmyk.tif')
    Image.fromarray(rgb).convert('CMYK').save(tmp_path / 'cmyk.jpg', quality=95)
    Image.fromarray(rgb).convert('RGBA').save(tmp_path / 'rgba.png')
    Image.fromarray(grey16).save(tmp_path / 'grey16.png')
    assert np.array_equal(read_image(str(tmp_path / 'cmyk.tif')), rgb)  # lossless CMYK
    assert np.array_equal(read_image(str(tmp_path / 'rgba.png')), rgb)  # alpha dropped
    lossy = read_image(str(tmp_path / 'cmyk.jpg')).astype(int) - rgb
    assert np.abs(lossy).mean() < 3  # JPEG's loss only
    grey = LoadImage()(dict(img_path=str(tmp_path / 'grey16.png')))['img']
    assert grey.dtype == np.uint8 and grey.shape == (20, 24, 3)
    assert np.array_equal(grey, np.repeat((grey16 >> 8).astype(np.uint8)[:, :, None], 3, 2))


def test_dataset_skips_and_counts_bad_images_only_when_asked(tmp_path):
    good = {f'good_{i}.png': 'RGB' for i in range(4)}
    _write_folder(tmp_path, good)
    bad = _bad_files(tmp_path)
    (tmp_path / 'ok.jpg').unlink(), (tmp_path / 'ok.png').unlink()
    strict = ImageDataset(str(tmp_path), pipeline=PIPELINE)
    names = [osp.basename(strict.get_data_info(i)['img_path']) for i in range(len(strict))]
    assert len(strict) == 4 + len(bad)
    with pytest.raises(BadImageError, match=names[0]):
        strict[0]
    np.random.seed(0)
    lenient = ImageDataset(str(tmp_path), pipeline=PIPELINE, skip_bad_images=True)
    samples = [lenient[i] for i in range(len(lenient))]
    # every index gives a good image; each bad file was met at least once, in its own index
    assert all(s['inputs'].shape == (3, 16, 16) for s in samples)
    assert all(osp.basename(s['data_samples'].img_path).startswith('good_') for s in samples)
    assert lenient.num_skipped >= len(bad)
    with pytest.raises(BadImageError):  # without the option evaluation sees every sample
        ImageDataset(str(tmp_path), pipeline=PIPELINE, test_mode=True)[0]
    # held out: a bad image is left out (None), not replaced, so that counts exclude it
    held_out = ImageDataset(str(tmp_path), pipeline=PIPELINE, skip_bad_images=True,
                            test_mode=True)
    kept = [held_out[i] for i in range(len(held_out))]
    assert [s is None for s in kept] == [not n.startswith('good_') for n in names]
    assert held_out.num_skipped == len(bad)


def test_training_goes_on_past_bad_images_and_logs_each(tmp_path):
    from conftest import tiny_run_cfg
    from mmengine.runner import Runner
    data = tmp_path / 'data'
    data.mkdir()
    _write_folder(data, {f'good_{i:02d}.png': 'RGB' for i in range(14)})
    bad = _bad_files(data)  # 7 bad files, and 2 more good ones: 16 good images
    cfg = tiny_run_cfg(tmp_path / 'work', max_epochs=2)
    cfg.train_dataloader.dataset = dict(type='ImageDataset', data_root=str(data),
                                        pipeline=cfg.train_pipeline, skip_bad_images=True)
    cfg.custom_hooks = []
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 4  # 23 files in batches of 16, 2 epochs
    log = next((tmp_path / 'work').glob('*/*.log')).read_text()
    skipped = [line for line in log.splitlines() if 'skipped a bad image' in line]
    assert len(skipped) == runner.train_dataloader.dataset.num_skipped >= 2 * len(bad)
    for name in bad:
        assert sum(str(data / name) in line for line in skipped) >= 2, name  # once an epoch
