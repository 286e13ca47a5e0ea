"""Property-based fuzzing (hypothesis, a bounded and fixed set of examples): the image loader and
model configs either work or fail with the project's own clear error, never anything else."""
import io

import numpy as np
import pytest
import torch
from conftest import tiny_mae_cfg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mimlab.datasets.transforms import BadImageError, read_image
from mimlab.registry import MODELS, UnknownTypeError

# derandomize: the same examples on every run, so the suite stays deterministic
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _encoded(fmt: str, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (12, 10, 3), dtype=np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


@st.composite
def damaged_images(draw) -> bytes:
    data = bytearray(_encoded(draw(st.sampled_from(['PNG', 'JPEG', 'BMP', 'TIFF'])),
                              draw(st.integers(0, 3))))
    for _ in range(draw(st.integers(0, 4))):  # flipped bytes
        data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
    return bytes(data[:draw(st.integers(0, len(data)))])  # and maybe cut short


@FUZZ
@given(data=st.one_of(damaged_images(), st.binary(max_size=300)))
def test_image_loader_decodes_or_names_the_file(tmp_path, data):
    path = tmp_path / 'fuzzed.img'
    path.write_bytes(data)
    try:
        img = read_image(str(path))
    except BadImageError as err:
        assert str(path) in str(err)
    else:
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3


@FUZZ
@given(name=st.text(st.sampled_from('MAEViTmaskedDecoderHd._'), min_size=1, max_size=12))
def test_unknown_types_always_get_the_registry_answer(name):
    if MODELS.get(name) is not None:
        return
    with pytest.raises(UnknownTypeError) as err:
        MODELS.build(dict(type=name))
    assert repr(name) in str(err.value)


@FUZZ
@given(img_size=st.integers(1, 40), patch_size=st.integers(1, 16),
       mask_ratio=st.floats(-0.5, 1.5, allow_nan=False))
def test_sizes_either_train_or_fail_at_build_time(img_size, patch_size, mask_ratio):
    cfg = tiny_mae_cfg(mask_ratio=mask_ratio, img_size=img_size, patch_size=patch_size)
    try:
        model = MODELS.build(cfg)
    except (ValueError, IndexError) as err:
        assert any(key in str(err) for key in ('img_size', 'mask_ratio', 'patch_size')), err
        return
    # what builds, trains: no shape error inside a step
    losses = model.loss(torch.randn(2, 3, img_size, img_size))
    assert torch.isfinite(losses['loss_rec'])
