"""A converted whole-MAE checkpoint continues pretraining at another image size: the encoder's
position embedding is resampled and the decoder's fixed sin-cos table rebuilt for the new grid."""
import torch
from conftest import tiny_mae_cfg

from mimlab.apis.converters import mimlab_to_mae_model
from mimlab.apis.export import convert_checkpoint
from mimlab.models.utils import sincos_pos_embed_2d
from mimlab.models.utils.state_dict import load_whole_model
from mimlab.registry import MODELS


def test_converted_mae_continues_at_half_the_size(tmp_path):
    """An official-layout MAE trained at 32 px (8x8 patches), converted with --whole, loads into
    the same MAE at 16 px (4x4) through load_from's loader and trains (before: refused,
    neck.decoder_pos_embed: [1, 65, 16] in the checkpoint, [1, 17, 16] in the model)."""
    torch.manual_seed(0)
    trained = MODELS.build(tiny_mae_cfg(img_size=32))
    official = tmp_path / 'official.pth'
    torch.save(dict(model=mimlab_to_mae_model(trained.state_dict())), official)
    converted = tmp_path / 'converted.pth'
    convert_checkpoint(str(official), str(converted), 'mae', whole=True)

    model = MODELS.build(tiny_mae_cfg(img_size=16))
    diff = load_whole_model(model, str(converted), key='load_from')
    assert diff.clean
    torch.testing.assert_close(model.neck.decoder_pos_embed,
                               sincos_pos_embed_2d(16, (4, 4), cls_token=True))
    # the learned weights did load: a decoder block is the trained one
    torch.testing.assert_close(model.neck.decoder_blocks[0].attn.qkv.weight,
                               trained.neck.decoder_blocks[0].attn.qkv.weight)
    loss = model(torch.randn(2, 3, 16, 16), mode='loss')['loss_rec']
    assert torch.isfinite(loss)
    loss.backward()
