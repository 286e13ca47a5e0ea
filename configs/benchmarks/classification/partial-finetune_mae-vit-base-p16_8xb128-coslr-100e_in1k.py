# Partial fine-tuning (MAE Fig. 9): only the last k blocks (and the head, its fc_norm included)
# train, the rest of the encoder is frozen. One key: model.trainable_blocks = 0 .. 12, or
# 'last_mlp' for the last block's MLP alone, e.g. --cfg-options model.trainable_blocks=4. MAE
# tunes the epoch budget per k ({50, 100, 200}): train_cfg.max_epochs. The rest as
# finetune_mae-vit-base-p16_8xb128-coslr-100e_in1k.py.
_base_ = [
    '../../_base_/models/vit-base-p16_finetune.py',
    '../../_base_/datasets/imagenet_finetune.py',
    '../../_base_/schedules/adamw_layer_decay_finetune.py',
    '../../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=128)
model = dict(trainable_blocks=1)
