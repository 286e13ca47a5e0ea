"""Ctrl-C stops a training run even where Python or a library swallows the KeyboardInterrupt."""
import os
import signal
import sys

import pytest
from mmengine.hooks import Hook
from mmengine.runner import Runner

from conftest import DEMO_CONFIG, import_tool, tiny_run_cfg
from mimlab.engine.interrupt import check_interrupt, ctrl_c_stops, interrupt_pending
from mimlab.engine.loops import use_resumable_loop
from mimlab.registry import HOOKS


@pytest.fixture(autouse=True)
def _python_sigint_handler():
    """Python's own SIGINT handler, as in a terminal (a shell may start the suite with SIGINT
    ignored, in the background)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _sigint_to_self() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(100_000):  # the handler runs here, in this frame
        pass


class _SwallowsCtrlC:
    """Python prints and drops an exception raised in ``__del__``."""

    def __del__(self):
        _sigint_to_self()


def test_an_interrupt_dropped_in_del_is_raised_by_the_next_check(monkeypatch):
    dropped = []  # what Python prints as "Exception ignored in ..."
    monkeypatch.setattr(sys, 'unraisablehook', lambda info: dropped.append(info.exc_type))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with ctrl_c_stops():
        assert not interrupt_pending()
        check_interrupt()  # nothing pending: no error
        caught = False
        try:
            _SwallowsCtrlC()
        except KeyboardInterrupt:  # pragma: no cover - would mean __del__ did not swallow it
            caught = True
        assert not caught and dropped == [KeyboardInterrupt]
        assert interrupt_pending()
        with pytest.raises(KeyboardInterrupt):
            check_interrupt()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@HOOKS.register_module(force=True)
class _CtrlCInADestructor(Hook):
    """SIGINT arrives while a destructor runs, after training iteration ``at``."""

    def __init__(self, at: int):
        self.at = at

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter == self.at:
            _SwallowsCtrlC()


def test_the_training_loop_stops_at_the_next_iteration(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, 'unraisablehook', lambda info: None)
    cfg = tiny_run_cfg(tmp_path, max_epochs=2)  # 8 iterations
    use_resumable_loop(cfg)
    cfg.custom_hooks = [dict(type='_CtrlCInADestructor', at=3)]
    runner = Runner.from_cfg(cfg)
    assert type(runner.train_loop).__name__ == 'ResumableEpochBasedTrainLoop'
    with ctrl_c_stops(), pytest.raises(KeyboardInterrupt):
        runner.train()
    # SIGINT came after the 4th iteration (index 3); without the check it trains all 8
    assert runner.iter == 4


def _train_tool_whose_run(monkeypatch, run):
    tool = import_tool('train')
    monkeypatch.setattr(tool, 'training_config', lambda cfg, **kwargs: cfg)
    monkeypatch.setattr(tool, 'train', lambda cfg, detect_anomaly=False: run())
    return tool


def _formats_the_config():
    """What mmengine's Config.pretty_text does with any error while it formats, Ctrl-C too."""
    try:
        _sigint_to_self()
    except BaseException:
        raise SyntaxError('Failed to format the config file')


def test_ctrl_c_turned_into_another_error_still_ends_with_the_resume_line(
        tmp_path, monkeypatch, capsys):
    tool = _train_tool_whose_run(monkeypatch, _formats_the_config)
    with pytest.raises(SystemExit) as stop:
        tool.main([DEMO_CONFIG, '--work-dir', str(tmp_path)])
    assert stop.value.code == 130
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith('interrupted; no checkpoint was saved yet (the command starts '
                                'afresh); continue with: ')
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_same_error_without_ctrl_c_keeps_its_traceback(tmp_path, monkeypatch):
    def fails():
        raise SyntaxError('Failed to format the config file')

    tool = _train_tool_whose_run(monkeypatch, fails)
    with pytest.raises(SyntaxError, match='Failed to format'):
        tool.main([DEMO_CONFIG, '--work-dir', str(tmp_path)])
