"""A NaN or inf in the loss or the gradients never reaches the weights."""
import math

import pytest
import torch
from conftest import DEMO_CONFIG, TINY_RUN_OPTIONS, import_tool, tiny_run_cfg
from mmengine.runner import CheckpointLoader, Runner

from mimlab.models.algorithms.mae import MAE
from mimlab.registry import MODELS


@MODELS.register_module(force=True)
class _MAEGoingBad(MAE):
    """The tiny MAE, with NaN inputs at the training calls in ``nan_loss_at`` (NaN loss and
    gradients) and an infinite gradient for ``cls_token`` (finite loss) at ``inf_grad_at``."""

    def __init__(self, nan_loss_at=(), inf_grad_at=(), **kwargs) -> None:
        super().__init__(**kwargs)
        self.nan_loss_at, self.inf_grad_at = set(nan_loss_at), set(inf_grad_at)
        self.calls = 0

    def loss(self, inputs, data_samples=None):
        self.calls += 1
        if self.calls in self.nan_loss_at:
            inputs = inputs * float('nan')
        if self.calls in self.inf_grad_at:
            handle = []

            def make_inf(grad):
                handle.pop().remove()  # this backward only
                return grad + float('inf')

            handle.append(self.backbone.cls_token.register_hook(make_inf))
        return super().loss(inputs, data_samples)


def _runner(tmp_path, guard: dict, checkpoints: bool = False, **bad) -> Runner:
    cfg = tiny_run_cfg(tmp_path, max_epochs=2)  # 8 iterations
    cfg.model.type = '_MAEGoingBad'
    cfg.model.update(bad)
    cfg.custom_hooks = [dict(type='NonFiniteGuardHook', **guard)]
    if not checkpoints:
        cfg.default_hooks.checkpoint.interval = 100  # only the guard's own save
    return Runner.from_cfg(cfg)


def _adam_steps(runner) -> int:
    optimizer = runner.optim_wrapper.optimizer
    return int(optimizer.state[optimizer.param_groups[0]['params'][0]]['step'])


def test_skip_leaves_bad_steps_out(tmp_path, caplog):
    runner = _runner(tmp_path, dict(action='skip'), nan_loss_at=(3,), inf_grad_at=(6,))
    runner.train()
    hook = next(h for h in runner.hooks if type(h).__name__ == 'NonFiniteGuardHook')
    assert runner.iter == 8 and hook.recovered == 2
    assert _adam_steps(runner) == 6  # 8 iterations, 2 updates left out
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert 'iteration 3: non-finite loss or gradient; loss parts: loss: nan' in log
    assert 'iteration 6:' in log and 'non-finite gradients in backbone.cls_token; step ' \
        'skipped (2 so far)' in log
    # the moving averages of the loss in the log stay finite after the skipped NaN
    progress = [line for line in log.splitlines() if 'Epoch(train)' in line]
    assert len(progress) == 8 and not any('nan' in line for line in progress)


def test_rollback_restores_the_last_checkpoint_and_goes_on(tmp_path):
    runner = _runner(tmp_path, dict(action='rollback'), checkpoints=True, nan_loss_at=(2, 6))
    runner.train()
    assert runner.iter == 8
    # iteration 2: no checkpoint yet, skipped (1 update); epoch_1.pth after 4 iterations holds
    # 3 updates; iteration 6 goes back to it, and 7, 8 add 2: 5 updates in the end
    assert _adam_steps(runner) == 5
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert 'iteration 2: non-finite loss or gradient; loss parts: loss: nan, loss_rec: nan; ' \
        'non-finite gradients in' in log and ' more; step skipped (1 so far)' in log
    assert f'step skipped and rolled back to {tmp_path}/epoch_1.pth (the weights and optimizer ' \
        'state after iteration 4) (2 so far)' in log


def test_stop_names_the_iteration_and_saves_the_state_before_it(tmp_path):
    runner = _runner(tmp_path, dict(action='stop'), nan_loss_at=(3,))
    with pytest.raises(FloatingPointError) as err:
        runner.train()
    message = str(err.value)
    path = tmp_path / 'non_finite_iter_3.pth'
    assert message.startswith('iteration 3 (epoch 1): non-finite loss or gradient; loss parts: '
                              'loss: nan, loss_rec: nan; non-finite gradients in ')
    assert str(path) in message
    ckpt = CheckpointLoader.load_checkpoint(str(path))  # weights_only, like any checkpoint
    assert ckpt['meta']['iter'] == 2 and ckpt['optimizer']['state'][0]['step'] == 2
    info = ckpt['meta']['non_finite']
    assert info['iteration'] == 3 and math.isnan(info['loss_parts']['loss_rec'])
    assert len(info['samples']) == 16 and 'backbone.cls_token' in info['non_finite_grads']
    # the saved weights are the model's, untouched by the bad step, and finite
    model = runner.model.state_dict()
    assert all(torch.equal(v, model[k]) for k, v in ckpt['state_dict'].items())
    assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values())
    assert 'random_state' in ckpt  # the masks of the bad step can be drawn again


def test_skip_gives_up_after_too_many_bad_steps_in_a_row(tmp_path):
    runner = _runner(tmp_path, dict(action='skip', max_consecutive=2),
                     nan_loss_at=range(2, 9))
    with pytest.raises(FloatingPointError, match=r'^iteration 4 \(epoch 1\) \(3 bad steps in a '
                       r'row\)'):
        runner.train()
    assert _adam_steps(runner) == 1


def test_train_py_detect_anomaly_names_the_backward_that_made_nan(tmp_path):
    train = import_tool('train')
    argv = [DEMO_CONFIG, '--work-dir', str(tmp_path), '--cfg-options', *TINY_RUN_OPTIONS,
            'train_cfg.max_epochs=2', 'model.type=_MAEGoingBad', 'model.nan_loss_at=[2]']
    with pytest.warns(UserWarning, match='Traceback of forward call') as warned, \
            pytest.raises(RuntimeError, match=r"Function '\w+Backward\d*' returned nan values"):
        train.main(argv + ['--detect-anomaly'])
    # the forward line that made the NaN's backward: the reconstruction loss
    assert any('pixel_head.py' in str(w.message) for w in warned)
    assert not torch.is_anomaly_enabled()  # only around the run
