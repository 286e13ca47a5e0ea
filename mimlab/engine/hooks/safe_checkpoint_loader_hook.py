"""The safe checkpoint loader for a run: installed while the runner is built."""
from mmengine.hooks import Hook

from mimlab.registry import HOOKS
from ..checkpoint import install_checkpoint_loader


@HOOKS.register_module()
class SafeCheckpointLoaderHook(Hook):
    """Installs :func:`~mimlab.engine.checkpoint.install_checkpoint_loader` (weights-only loads
    with mmengine's classes allowed, refusals named, ``--unsafe-load`` as the opt-in) for every
    local checkpoint the run reads: ``load_from``, resume, ``Pretrained`` init and hooks that
    load.

    It installs when the runner registers it, at the end of the runner's construction, and not in
    ``before_run``: ``Runner.train`` initialises the weights and resumes after ``before_run``,
    but ``FlexibleRunner.train`` (FSDP, DeepSpeed) does both before it. The runner is built after
    its model, and no mimlab model loads weights in its constructor (they load in
    ``init_weights``), so registration precedes every load of the run. The loader stays
    installed for the rest of the process.

    ``configs/_base_/default_runtime.py`` registers it as ``default_hooks.safe_checkpoint_loader``
    (a dict entry, so that configs which replace ``custom_hooks`` keep it); mimlab's mmseg and
    mmdet configs, which inherit those libraries' runtimes, name it as
    ``type='mimlab.SafeCheckpointLoaderHook'``.
    """
    def __init__(self) -> None:
        install_checkpoint_loader()
