"""Catch a non-finite loss or gradient before the optimizer applies it."""
import functools
import math
import os.path as osp
from typing import Dict, List, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import AmpOptimWrapper
from mmengine.runner import CheckpointLoader

from mimlab.registry import HOOKS
from ..workdir import latest_checkpoint

ACTIONS = ('stop', 'skip', 'rollback')


def _all_finite(tensors: List[torch.Tensor]) -> bool:
    return not tensors or bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())


@HOOKS.register_module()
class NonFiniteGuardHook(Hook):
    """Check every step's loss and gradients before the optimizer step; a NaN or inf is never
    applied to the weights.

    The hook wraps the optim wrapper's ``backward`` (to see the loss) and ``step`` (to see the
    gradients, and to leave the step out). With ``AmpOptimWrapper`` only the loss is checked and
    the step is still handed to the loss scaler: gradients that overflow fp16 are its business,
    and it skips a step with non-finite gradients on every rank alike (leaving the step out here
    would leave its scale behind on this rank only).

    Args:
        action: ``'stop'``: raise ``FloatingPointError`` naming the iteration, the loss parts and
            the parameters with non-finite gradients, after saving the state before the bad
            step (model, optimizer, schedulers, the samples of the batch) to
            ``{work_dir}/non_finite_iter_{N}.pth``. ``'skip'``: leave the step out (weights and
            optimizer moments untouched), log it, and go on; the non-finite values stay out of
            the logged moving averages. ``'rollback'``: leave the step out and also put back
            the weights and optimizer state of the last checkpoint (``--resume``'s choice),
            then go on with the next batch; the iteration count and the lr schedule go on
            (skipped when there is no checkpoint yet).
        max_consecutive: with ``'skip'`` or ``'rollback'``, stop as above after this many bad
            steps in a row: a run that only produces NaN must not go on silently.
        check_grads: also check the gradients (one pass over them per step). Keep it on with
            several processes: after the all-reduce the gradients agree on every rank, the
            losses do not, so every rank makes the same decision.
    """
    # after_train_iter: before RuntimeInfoHook puts the losses into the message hub, and before
    # the logger and checkpoint hooks
    priority = 'HIGHEST'

    def __init__(self, action: str = 'stop', max_consecutive: int = 10,
                 check_grads: bool = True) -> None:
        if action not in ACTIONS:
            raise ValueError(f'NonFiniteGuardHook action={action!r}: expected one of {ACTIONS}')
        self.action = action
        self.max_consecutive = max_consecutive
        self.check_grads = check_grads
        self.recovered = 0
        self._consecutive = 0
        self._loss_finite = True
        self._bad_grads: Optional[List[str]] = None

    def before_train(self, runner) -> None:
        wrapper = runner.optim_wrapper
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        names = {param: name for name, param in model.named_parameters()}
        amp = isinstance(wrapper, AmpOptimWrapper)
        check_grads = self.check_grads and not amp
        backward, step = wrapper.backward, wrapper.step

        @functools.wraps(backward)
        def checked_backward(loss: torch.Tensor, **kwargs) -> None:
            # sticky over accumulated micro-batches, until the step that would apply them
            self._loss_finite &= bool(torch.isfinite(loss.detach()).all())
            backward(loss, **kwargs)

        # wraps: keeps the marks mmengine's schedulers put on the step they count
        @functools.wraps(step)
        def checked_step(**kwargs) -> None:
            params = [p for group in wrapper.optimizer.param_groups for p in group['params']
                      if p.grad is not None] if check_grads else []
            if self._loss_finite and _all_finite([p.grad for p in params]):
                step(**kwargs)
                return
            self._bad_grads = [names.get(p, '?') for p in params
                               if not bool(torch.isfinite(p.grad).all())]
            self._loss_finite = True
            if amp:
                step(**kwargs)  # the loss scaler skips it (see the class docstring)

        wrapper.backward, wrapper.step = checked_backward, checked_step

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[Dict[str, torch.Tensor]] = None) -> None:
        parts = {key: float(torch.as_tensor(value).detach())
                 for key, value in (outputs or {}).items()}
        bad_grads, self._bad_grads = self._bad_grads, None
        if bad_grads is None and all(math.isfinite(v) for v in parts.values()):
            self._consecutive = 0
            return
        iteration = runner.iter + 1
        what = self._describe(parts, bad_grads or [])
        if self.action != 'stop' and self._consecutive < self.max_consecutive:
            self.recovered += 1
            self._consecutive += 1
            done = self._roll_back(runner) if self.action == 'rollback' else None
            runner.logger.warning(f'iteration {iteration}: {what}; step skipped'
                                  f'{done or ""} ({self.recovered} so far)')
            # keep NaN out of the logged moving averages of the next iterations
            for key in [key for key, value in parts.items() if not math.isfinite(value)]:
                del outputs[key]
            return
        path = self._save_state(runner, iteration, parts, bad_grads or [], data_batch)
        in_a_row = (f' ({self._consecutive + 1} bad steps in a row)'
                    if self.action != 'stop' else '')
        raise FloatingPointError(
            f'iteration {iteration} (epoch {runner.epoch + 1}){in_a_row}: {what}. The state '
            f'before this step is saved in {path}. Try a lower lr, gradient clipping '
            '(optim_wrapper.clip_grad), fp32, or NonFiniteGuardHook(action="skip").')

    def after_train(self, runner) -> None:
        if self.recovered:
            runner.logger.warning(f'{self.recovered} steps with a non-finite loss or gradient '
                                  'were left out')

    @staticmethod
    def _roll_back(runner) -> Optional[str]:
        """Put back the last checkpoint's weights and optimizer state; what was done, for the
        log (None when there is no checkpoint yet)."""
        path = latest_checkpoint(runner.work_dir, fallback=True)
        if path is None:
            return None
        checkpoint = CheckpointLoader.load_checkpoint(path, map_location='cpu')
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model.load_state_dict(checkpoint['state_dict'])
        runner.optim_wrapper.load_state_dict(checkpoint['optimizer'])
        return (f' and rolled back to {path} (the weights and optimizer state after iteration '
                f'{checkpoint["meta"]["iter"]})')

    @staticmethod
    def _describe(parts: Dict[str, float], bad_grads: List[str]) -> str:
        text = 'non-finite loss or gradient; loss parts: ' + ', '.join(
            f'{key}: {value:.4g}' for key, value in parts.items())
        if bad_grads:
            shown = ', '.join(bad_grads[:5])
            more = f' and {len(bad_grads) - 5} more' if len(bad_grads) > 5 else ''
            text += f'; non-finite gradients in {shown}{more}'
        return text

    @staticmethod
    def _save_state(runner, iteration: int, parts: Dict[str, float], bad_grads: List[str],
                    data_batch) -> str:
        samples = [{key: sample.metainfo[key] for key in ('sample_idx', 'img_path')
                    if key in sample.metainfo}
                   for sample in (data_batch or {}).get('data_samples', [])]
        filename = f'non_finite_iter_{iteration}.pth'
        # meta iter/epoch: the iterations whose updates the saved weights hold
        runner.save_checkpoint(
            runner.work_dir, filename, by_epoch=False, backend_args=dict(backend='atomic_local'),
            meta=dict(iter=runner.iter, epoch=runner.epoch, non_finite=dict(
                iteration=iteration, loss_parts=parts, non_finite_grads=bad_grads,
                samples=samples)))
        return osp.join(runner.work_dir, filename)
