import pytest
import torch

from mimlab.models.utils import PatchMask, generate_mask, num_masked_patches


def _check_consistent(pm, num_patches):
    # mask marks exactly the patches outside ids_keep
    keep_mask = torch.ones_like(pm.mask)
    keep_mask.scatter_(1, pm.ids_keep, False)
    assert torch.equal(keep_mask, pm.mask)
    # ids_restore inverts the shuffle: a [kept tokens, mask tokens] sequence gathered with it puts
    # every kept token back at its own patch position (as the MAE decoder does)
    b, k = pm.ids_keep.shape
    tokens = torch.cat([pm.ids_keep.float(), torch.full((b, num_patches - k), -1.0)], dim=1)
    restored = torch.gather(tokens, 1, pm.ids_restore)
    expected = torch.where(pm.mask, torch.tensor(-1.0), torch.arange(num_patches).float())
    assert torch.equal(restored, expected)
    assert torch.equal(pm.ids_restore.sort(1).values, torch.arange(num_patches).expand(b, -1))


@pytest.mark.parametrize('ratio,expect_keep', [(0.75, 49), (0.5, 98), (0.9, 19), (0.1, 176)])
def test_random_mask_keeps_exact_count(ratio, expect_keep):
    pm = generate_mask(6, (14, 14), ratio, 'random', generator=torch.Generator().manual_seed(0))
    assert pm.ids_keep.shape == (6, expect_keep)
    assert (pm.mask.sum(1) == 196 - expect_keep).all()
    _check_consistent(pm, 196)


def test_random_mask_differs_per_sample_and_follows_generator():
    a = generate_mask(4, (8, 8), 0.75, generator=torch.Generator().manual_seed(1))
    b = generate_mask(4, (8, 8), 0.75, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a.mask, b.mask)
    assert not torch.equal(a.mask[0], a.mask[1])


def test_block_mask_exact_count_and_blocky():
    # CAE's default: 75 of 196 patches at 224 px / patch 16
    ratio = 75 / 196
    pm = generate_mask(8, (14, 14), ratio, 'block', generator=torch.Generator().manual_seed(0))
    assert (pm.mask.sum(1) == 75).all()
    _check_consistent(pm, 196)
    # blocks: masked patches have many masked 4-neighbours, unlike random masking
    def neighbour_rate(mask):
        m = mask.view(-1, 14, 14).float()
        right = (m[:, :, 1:] * m[:, :, :-1]).sum()
        down = (m[:, 1:] * m[:, :-1]).sum()
        return float((right + down) / m.sum())
    rand = generate_mask(8, (14, 14), ratio, 'random', generator=torch.Generator().manual_seed(0))
    assert neighbour_rate(pm.mask) > 2 * neighbour_rate(rand.mask)


def test_grid_mask_keeps_one_per_cell():
    pm = generate_mask(2, (14, 14), 0.75, 'grid')
    assert pm.ids_keep.shape == (2, 49)
    kept = (~pm.mask[0]).view(14, 14)
    assert kept[::2, ::2].all() and kept.sum() == 49
    _check_consistent(pm, 196)


@pytest.mark.parametrize('ratio', [0.0, 1.0, -0.1, 1.5])
def test_bad_ratio_is_refused(ratio):
    with pytest.raises(ValueError, match='mask_ratio'):
        num_masked_patches(196, ratio)


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match='mask mode'):
        generate_mask(1, (4, 4), 0.5, 'checkerboard')


def test_ratios_that_remove_no_patch_fail_at_build_time():
    # found by tests/test_fuzz.py: a ratio that removes nothing made a 0 / 0 loss
    from mimlab.models.backbones import MaskedViT
    from mimlab.models.utils.masking import grid_stride
    with pytest.raises(ValueError, match='mask_ratio=1e-20 removes no patch of 16'):
        num_masked_patches(16, 1e-20)  # 1 - 1e-20 rounds to 1.0: all 16 kept
    assert num_masked_patches(16, 0.01) == 1  # int(16 * 0.99) = 15 kept
    with pytest.raises(ValueError, match='grid masking with mask_ratio=0.5 removes no patch'):
        MaskedViT(arch=dict(embed_dim=16, depth=1, num_heads=1), img_size=16, patch_size=4,
                  mask_ratio=0.5, mask_mode='grid')
    assert grid_stride(0.56) == 2 and grid_stride(0.75) == 2 and grid_stride(0.9) == 3


def test_patch_mask_gathers_and_restores():
    pm = generate_mask(3, (4, 4), 0.75, generator=torch.Generator().manual_seed(0))
    x = torch.randn(3, 16, 5)
    kept, removed = pm.keep(x), pm.removed(x)
    assert kept.shape == (3, 4, 5) and removed.shape == (3, 12, 5)
    assert not pm.mask.gather(1, pm.ids_keep).any() and pm.mask.gather(1, pm.ids_removed).all()
    assert torch.equal(pm.restore(kept, removed), x)  # restore inverts the split
    # a mask token in the removed places, as MAE's decoder fills them
    filled = pm.restore(kept, torch.zeros(3, 12, 5))
    assert torch.equal(filled[~pm.mask], x[~pm.mask]) and not filled[pm.mask].any()
    # a mask given as booleans (e.g. a reference's) becomes the same PatchMask algebra
    again = PatchMask.from_mask(pm.mask)
    assert torch.equal(again.mask, pm.mask)
    assert torch.equal(again.restore(again.keep(x), again.removed(x)), x)
    with pytest.raises(ValueError, match='as many patches removed'):
        PatchMask.from_mask(torch.tensor([[True, False], [True, True]]))
    every = PatchMask.removing_all(2, 16)
    assert torch.equal(every.removed(x[:2]), x[:2]) and every.num_keep == 0
