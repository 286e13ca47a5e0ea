"""LARS (You et al. 2017), the optimizer of MAE's large-batch linear probe: timm's implementation,
registered as ``type='LARS'``.

MAE's LARS (from MoCo v3) applies the trust ratio to every weight matrix even without weight
decay, and not to biases and norms: ``always_adapt=True`` and, per parameter group,
``paramwise_cfg=dict(custom_keys={'bias': dict(always_adapt=False)})`` give that with timm's
class (mmengine copies a custom key's extra settings into its parameter group).
"""
from timm.optim import Lars

from mimlab.registry import OPTIMIZERS

OPTIMIZERS.register_module(name='LARS', module=Lars)
