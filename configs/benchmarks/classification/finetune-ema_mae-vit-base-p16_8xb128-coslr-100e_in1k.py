# Fine-tuning with an exponential moving average of the weights (mmengine's EMAHook, decay
# 0.9999); validation and the saved checkpoint's `ema_state_dict` use the averaged weights. The
# rest as finetune_mae-vit-base-p16_8xb128-coslr-100e_in1k.py.
_base_ = [
    '../../_base_/models/vit-base-p16_finetune.py',
    '../../_base_/datasets/imagenet_finetune.py',
    '../../_base_/schedules/adamw_layer_decay_finetune.py',
    '../../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=128)
custom_hooks = [dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL')]
