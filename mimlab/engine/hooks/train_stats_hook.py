"""Training health in the logs: images per second and the gradient norm."""
from typing import List

import torch
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapperDict

from mimlab.registry import HOOKS


@HOOKS.register_module()
class TrainStatsHook(Hook):
    """Put ``train/images_per_s`` (images of all processes per second of the last iteration, as
    ``IterTimerHook`` timed it) and ``train/grad_norm`` (the total L2 norm of the gradients that
    the optimizer step uses) in the message hub, where the logger averages and writes them (log,
    ``scalars.json``, TensorBoard) with the losses and the lr.

    The gradient norm is read by an optimizer step pre-hook: it sees the gradients after
    backward (unscaled by a loss scaler, summed by DDP) and changes nothing, so training numbers
    are those of a run without the hook. An optim wrapper that clips gradients
    (``optim_wrapper.clip_grad``) already logs the norm before clipping under the same name, so
    the hook leaves it alone. Several optimizers (``OptimWrapperDict``) log
    ``train/grad_norm_{name}``.
    """
    # after IterTimerHook (NORMAL) has timed the iteration, before LoggerHook (BELOW_NORMAL)
    priority = 55

    def __init__(self) -> None:
        self._handles: List = []

    def before_train(self, runner) -> None:
        wrappers = runner.optim_wrapper
        named = (dict(wrappers.items()) if isinstance(wrappers, OptimWrapperDict)
                 else {'': wrappers})
        for name, wrapper in named.items():
            if wrapper.clip_grad_kwargs:
                continue
            key = f'train/grad_norm_{name}' if name else 'train/grad_norm'
            self._handles.append(wrapper.optimizer.register_step_pre_hook(
                self._grad_norm_logger(runner, key)))

    @staticmethod
    def _grad_norm_logger(runner, key: str):
        @torch.no_grad()
        def log_grad_norm(optimizer, args, kwargs) -> None:
            grads = [p.grad for group in optimizer.param_groups for p in group['params']
                     if p.grad is not None]
            if grads:
                runner.message_hub.update_scalar(key, float(torch.nn.utils.get_total_norm(grads)))
        return log_grad_norm

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if data_batch is None or 'train/time' not in runner.message_hub.log_scalars:
            return
        seconds = runner.message_hub.get_scalar('train/time').current()
        if seconds > 0:
            images = len(data_batch['inputs']) * get_world_size()
            runner.message_hub.update_scalar('train/images_per_s', images / seconds)

    def after_train(self, runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
