"""MAE with the dVAE token target (the MAE paper's Table 1d ablation): DVAETokenHead on MAE."""
import os.path as osp

import pytest
import torch
from conftest import FASHION_MNIST, REPO, TINY_RUN, tiny_mae_cfg
from mmengine.config import Config

from mimlab.registry import MODELS
from mimlab.models.utils import patchify

TOKEN_CONFIG = osp.join(REPO, 'configs/mae/'
                        'mae-dvae-token_vit-tiny-p4_1xb256-coslr-6e_fashion-mnist.py')
# 16 codes, one token per 4 x 4 pixels: a 4 x 4 grid at 16 px, one per 4-px patch
TINY_DVAE = dict(type='DiscreteVAE', vocab_size=16, hidden_dim=8, code_dim=8,
                 num_downsamples=2, num_res_blocks=1)


def token_mae(embed_dim: int = 32):
    cfg = tiny_mae_cfg()
    cfg['backbone']['arch']['embed_dim'] = embed_dim
    cfg['head'] = dict(type='DVAETokenHead', tokenizer=dict(TINY_DVAE))
    torch.manual_seed(0)
    return MODELS.build(cfg)


def images(n: int = 2, size: int = 16) -> torch.Tensor:
    # the tiny config's preprocessor has mean 0 and std 1: inputs are pixels in [0, 255]
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(1)) * 255


def test_decoder_width_follows_the_head():
    pixel = MODELS.build(tiny_mae_cfg())
    assert pixel.neck.decoder_pred.out_features == 4 * 4 * 3
    for width in (32, 48):
        model = token_mae(width)
        assert model.neck.decoder_pred.out_features == width == model.head.fc.in_features
        assert model.head.fc.out_features == 16
        assert model.neck.mask_token.shape[-1] == 16  # the decoder's own width is unchanged


def test_loss_is_cross_entropy_over_removed_patches():
    model = token_mae()
    x = images()
    torch.manual_seed(5)
    loss = model.loss(x)
    assert set(loss) == {'loss_target'}
    torch.manual_seed(5)  # the same mask, drawn from the global generator
    latent = model.backbone.forward_masked(x)
    logits = model.head.fc(model.neck(latent.tokens, latent.patch_mask))  # (B, L, V)
    ids = model.head.tokenizer.logits(x / 255).argmax(dim=1).flatten(1)  # (B, L)
    log_p = torch.log_softmax(logits.detach(), dim=-1)
    total, count = 0.0, 0
    for b in range(x.shape[0]):
        for j in range(ids.shape[1]):
            if latent.mask[b, j]:
                total -= float(log_p[b, j, ids[b, j]])
                count += 1
    assert count == 2 * 12  # 75% of 16 patches per image
    assert loss['loss_target'].item() == pytest.approx(total / count, rel=1e-5)
    # a different mask gives a different loss: the loss really reads the removed patches only
    torch.manual_seed(6)
    assert model.loss(x)['loss_target'].item() != pytest.approx(total / count, rel=1e-5)


def test_one_train_step_leaves_the_tokenizer_alone():
    model = token_mae()
    model.train()
    assert not model.head.tokenizer.training
    tokenizer_before = {k: v.clone() for k, v in model.head.tokenizer.state_dict().items()}
    decoder_before = model.neck.decoder_pred.weight.detach().clone()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-3)
    loss = model.loss(images())['loss_target']
    loss.backward()
    assert all(p.grad is None for p in model.head.tokenizer.parameters())
    assert model.head.fc.weight.grad.abs().sum() > 0
    assert model.backbone.blocks[0].attn.qkv.weight.grad.abs().sum() > 0
    optimizer.step()
    for k, v in model.head.tokenizer.state_dict().items():
        assert torch.equal(v, tokenizer_before[k]), k
    assert not torch.equal(model.neck.decoder_pred.weight, decoder_before)


def test_reconstruction_decodes_the_predicted_tokens():
    model = token_mae().eval()
    x = images()
    rec = model.reconstruct(x, generator=torch.Generator().manual_seed(3))
    latent = model.backbone.forward_masked(x, generator=torch.Generator().manual_seed(3))
    assert torch.equal(latent.mask, rec.mask)
    ids = model.head.fc(model.neck(latent.tokens, latent.patch_mask)).argmax(-1)
    decoded = model.head.tokenizer.decode(ids.view(2, 4, 4)) * 255  # mean 0, std 1
    torch.testing.assert_close(rec.reconstruction, decoded)
    keep = ~rec.mask  # visible patches are pasted from the input, removed ones decoded
    torch.testing.assert_close(patchify(rec.pasted, 4)[keep], patchify(x, 4)[keep])
    torch.testing.assert_close(patchify(rec.pasted, 4)[~keep], patchify(decoded, 4)[~keep])
    # the held-out loss per image: mean cross-entropy over its removed patches
    pred = model.neck(latent.tokens, latent.patch_mask)
    hand = model.head.patch_losses(latent.patch_mask.removed(pred), x, latent.patch_mask).mean(1)
    torch.testing.assert_close(rec.loss, hand)


def test_missing_tokenizer_checkpoint_is_a_clear_error(tmp_path):
    cfg = Config.fromfile(TOKEN_CONFIG)
    assert cfg.model.head.tokenizer.init_cfg.checkpoint == 'work_dirs/dvae_demo/epoch_3.pth'
    cfg.model.head.tokenizer.init_cfg.checkpoint = str(tmp_path / 'none.pth')
    model = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    assert model.neck.decoder_pred.out_features == model.backbone.embed_dim == 128
    with pytest.raises(FileNotFoundError, match='model.head.tokenizer.init_cfg.checkpoint'):
        model.init_weights()


def test_demo_config_trains_with_pictures(tmp_path):
    """A tiny run of the demo config: the tokenizer loads from its checkpoint and stays
    unchanged, and the ReconstructionHook draws decoded-token pictures."""
    if not osp.isdir(FASHION_MNIST):
        pytest.skip('Fashion-MNIST is not installed')
    from mmengine.runner import Runner
    torch.manual_seed(0)
    tokenizer = MODELS.build(dict(type='DiscreteVAE', vocab_size=128, hidden_dim=32,
                                  code_dim=32, num_downsamples=2, num_res_blocks=1))
    ckpt = tmp_path / 'dvae.pth'
    torch.save(dict(state_dict={f'tokenizer.{k}': v
                                for k, v in tokenizer.state_dict().items()}), ckpt)
    cfg = Config.fromfile(TOKEN_CONFIG)
    cfg.merge_from_dict(dict(TINY_RUN, **{'train_cfg.max_epochs': 2,
                                          'model.head.tokenizer.init_cfg.checkpoint': str(ckpt)}))
    cfg.work_dir = str(tmp_path / 'run')
    cfg.experiment_name = 'tiny_mae_token'
    runner = Runner.from_cfg(cfg)
    runner.train()
    loaded = runner.model.head.tokenizer.state_dict()
    for k, v in tokenizer.state_dict().items():
        assert torch.equal(loaded[k], v), k
    assert (tmp_path / 'run' / 'vis' / 'reconstruction_latest.png').is_file()
    assert 0 < runner.message_hub.get_scalar('picture/loss_rec').current() < 10
