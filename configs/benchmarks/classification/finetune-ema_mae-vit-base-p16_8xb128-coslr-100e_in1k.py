# Fine-tuning with an exponential moving average of the weights (mmengine's EMAHook, decay
# 0.9999); validation and the saved checkpoint's `ema_state_dict` use the averaged weights.
_base_ = './finetune_mae-vit-base-p16_8xb128-coslr-100e_in1k.py'
custom_hooks = [dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL')]
