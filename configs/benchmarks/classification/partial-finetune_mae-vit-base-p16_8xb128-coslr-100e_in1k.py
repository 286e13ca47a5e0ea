# Partial fine-tuning (MAE Fig. 9): only the last k blocks (and the head, its fc_norm included)
# train, the rest of the encoder is frozen. One key: model.trainable_blocks = 0 .. 12, or 'last_mlp' for the last
# block's MLP alone, e.g. --cfg-options model.trainable_blocks=4. MAE tunes the epoch budget per
# k ({50, 100, 200}): train_cfg.max_epochs.
_base_ = './finetune_mae-vit-base-p16_8xb128-coslr-100e_in1k.py'
model = dict(trainable_blocks=1)
