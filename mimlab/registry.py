"""mimlab's registries: children of mmengine's root registries, scope ``mimlab``.

Each registry knows where its modules live (``locations``) and imports them the first time it is
searched, so ``import mimlab`` stays light and a downstream config (mmseg, mmdet) can say
``type='mimlab.VisionTransformer'`` after ``custom_imports=dict(imports=['mimlab'])``: the parent
registry finds this child by its scope and the child imports the backbone module on demand.

An unknown ``type`` is answered with the registered names closest to it ("did you mean ..."),
and so is a config key that the component's constructor does not take (its signature is read
before building). The registry checks a config before building (:func:`check_type`,
:func:`check_arguments`): mimlab's registries in ``build``, and :func:`check_config_types` for
the entries of a config that mmengine's Runner builds through its root registries (its loops and
dataloaders included). ``get`` still returns None for a missing name, which
mmengine's scope search relies on (and also for a malformed one, where mmengine would crash).
"""
import difflib
import inspect
from typing import Any, Iterable, List, Optional

from mmengine import registry as root
from mmengine.registry import Registry


def close_matches(registry: Registry, key: str, n: int = 3) -> List[str]:
    """The names registered in ``registry`` or its parents closest to ``key``, ignoring case."""
    registry.import_from_location()
    names, current = set(), registry
    while current is not None:
        names.update(current.module_dict)
        current = current.parent
    by_lower = {name.lower(): name for name in sorted(names)}
    matches = difflib.get_close_matches(key.split('.')[-1].lower(), by_lower, n=n, cutoff=0.6)
    return [by_lower[match] for match in matches]


class ConfigError(ValueError):
    """A config or a run option that cannot work together; the message names the key."""


class UnknownTypeError(KeyError):
    """A config names a ``type`` that no registry in scope holds; the message suggests names."""

    def __str__(self) -> str:
        return str(self.args[0])  # KeyError would quote it


def check_type(registry: Registry, key: Any, scope: Optional[str] = None) -> None:
    """Raise :class:`UnknownTypeError`, with the closest registered names, when ``key`` (a
    config's ``type``) is a name that ``registry`` would not find when building: searched as
    mmengine's ``build_from_cfg`` searches, in the registry of ``scope`` (default: the current
    default scope) and its parents. Classes and callables pass."""
    if not isinstance(key, str):
        return
    with registry.switch_scope_and_registry(scope) as found_in:
        if found_in.get(key) is not None:
            return
    matches = close_matches(found_in, key)
    if matches:
        raise UnknownTypeError(f'{key!r} is not a registered {found_in.name} type: did you mean '
                               f'{" or ".join(repr(m) for m in matches)}?')
    known = sorted(found_in.module_dict)
    raise UnknownTypeError(f'{key!r} is not a registered {found_in.name} type; '
                           f'{found_in.scope} has {", ".join(known[:20])}'
                           f'{" ..." if len(known) > 20 else ""}')


class BuildError(ValueError):
    """A component's constructor refused the values of its config (``type_name`` names the
    component: its config's ``type``); the message is the constructor's, which names the value."""

    def __init__(self, message: str, type_name: str) -> None:
        super().__init__(message)
        self.type_name = type_name


class UnknownArgumentError(TypeError):
    """A config gives a component an argument its constructor does not take."""

    def __init__(self, cls: type, type_name: str, argument: str,
                 valid: Optional[List[str]] = None) -> None:
        self.cls, self.type_name, self.argument = cls, type_name, argument
        self.path: Optional[str] = None  # the key path of the component, where known
        valid = init_arguments(cls) if valid is None else valid
        matches = difflib.get_close_matches(argument, valid, n=3, cutoff=0.6)
        super().__init__(f'{cls.__name__} has no argument {argument!r}'
                         + (f'; did you mean {" or ".join(matches)}?' if matches else
                            f'; it takes {", ".join(valid)}'))


def _keyword_chain(cls: type):
    """(names, open): the keyword arguments ``cls(...)`` takes, its ``__init__``'s and its
    bases' while each passes ``**kwargs`` on (a catch-all named ``kwargs`` is taken to go to
    the base, as in mimlab, mmengine and timm); ``open`` when one takes any keyword for
    itself (a catch-all with another name, e.g. ``**model_kwargs``) or the last base with a
    constructor still has ``**kwargs``."""
    names: List[str] = []
    for klass in cls.__mro__:
        if '__init__' not in klass.__dict__ or klass is object:
            continue
        try:
            params = inspect.signature(klass.__dict__['__init__']).parameters.values()
        except (TypeError, ValueError):  # a builtin without a signature
            return names, True
        names += [p.name for p in params if p.name != 'self' and p.kind in (
            p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in names]
        catch_all = [p.name for p in params if p.kind == p.VAR_KEYWORD]
        if not catch_all:
            return names, False
        if catch_all != ['kwargs']:
            return names, True
    return names, True


def init_arguments(cls: type) -> List[str]:
    """The keyword arguments ``cls(...)`` takes: its ``__init__``'s, and its bases' while each
    passes ``**kwargs`` on."""
    return _keyword_chain(cls)[0]


def check_arguments(cls: Any, cfg: dict, type_name: Optional[str] = None,
                    extra: Iterable[str] = ()) -> None:
    """Raise :class:`UnknownArgumentError` (with the closest valid names) for the first key of
    ``cfg`` that the constructor of ``cls`` does not take, read from its signature before
    anything is built. ``type``/``_scope_`` and the names in ``extra`` (keys the builder takes
    out itself) always pass; so does every key when ``cls`` is not a class or its constructor
    takes any keyword."""
    if not isinstance(cls, type) or not isinstance(cfg, dict):
        return
    names, open_ = _keyword_chain(cls)
    if open_:
        return
    valid = names + [name for name in extra if name not in names]
    for key in cfg:
        if key not in ('type', '_scope_') and key not in valid:
            raise UnknownArgumentError(cls, type_name or cls.__name__, key, valid)


class _MimlabRegistry(Registry):

    def get(self, key: str):
        # mmengine imports '{scope}.registry' for a key 'scope.Name' and crashes with a
        # TypeError on an empty scope ('.Name', found by fuzzing): such a name is simply missing
        if isinstance(key, str) and key.startswith('.'):
            return None
        return super().get(key)

    def build(self, cfg: dict, *args, **kwargs):
        type_name = cfg.get('type') if isinstance(cfg, dict) else None
        cls = None
        if isinstance(cfg, dict):
            check_type(self, type_name, cfg.get('_scope_'))
            with self.switch_scope_and_registry(cfg.get('_scope_')) as found_in:
                cls = found_in.get(type_name) if isinstance(type_name, str) else type_name
            check_arguments(cls, cfg, type_name if isinstance(type_name, str) else None)
        try:
            return super().build(cfg, *args, **kwargs)
        except (UnknownTypeError, BuildError, UnknownArgumentError):
            raise  # from a component built inside this one: already explained
        except ValueError as err:
            # the constructor refused the config's values: say which component, so that a tool
            # can name the config key in one line (mimlab.engine.errors.one_line_errors)
            if not isinstance(cls, type):
                raise
            name = type_name if isinstance(type_name, str) else cls.__name__
            raise BuildError(f'{cls.__name__}: {err}', name) from err


def _child(name: str, parent: Registry, locations=()) -> Registry:
    return _MimlabRegistry(name, parent=parent, scope='mimlab', locations=list(locations))


MODELS = _child('model', root.MODELS, ['mimlab.models'])
DATASETS = _child('dataset', root.DATASETS, ['mimlab.datasets'])
DATA_SAMPLERS = _child('data sampler', root.DATA_SAMPLERS, ['mimlab.datasets'])
TRANSFORMS = _child('transform', root.TRANSFORMS, ['mimlab.datasets.transforms'])
HOOKS = _child('hook', root.HOOKS, ['mimlab.engine'])
OPTIM_WRAPPERS = _child('optim_wrapper', root.OPTIM_WRAPPERS, ['mimlab.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    root.OPTIM_WRAPPER_CONSTRUCTORS, ['mimlab.engine'])
OPTIMIZERS = _child('optimizer', root.OPTIMIZERS, ['mimlab.engine'])
PARAM_SCHEDULERS = _child('parameter scheduler', root.PARAM_SCHEDULERS, ['mimlab.engine'])
METRICS = _child('metric', root.METRICS, ['mimlab.evaluation'])
EVALUATOR = _child('evaluator', root.EVALUATOR, ['mimlab.evaluation'])
VISUALIZERS = _child('visualizer', root.VISUALIZERS, ['mimlab.visualization'])
VISBACKENDS = _child('vis_backend', root.VISBACKENDS, ['mimlab.visualization'])
RUNNERS = _child('runner', root.RUNNERS, ())
RUNNER_CONSTRUCTORS = _child('runner constructor', root.RUNNER_CONSTRUCTORS, ())
LOOPS = _child('loop', root.LOOPS, ['mimlab.engine'])
LOG_PROCESSORS = _child('log_processor', root.LOG_PROCESSORS, ())
MODEL_WRAPPERS = _child('model_wrapper', root.MODEL_WRAPPERS, ())
WEIGHT_INITIALIZERS = _child('weight initializer', root.WEIGHT_INITIALIZERS, ())
TASK_UTILS = _child('task util', root.TASK_UTILS, ())
INFERENCERS = _child('inferencer', root.INFERENCERS, ())
FUNCTIONS = _child('function', root.FUNCTIONS, ())
STRATEGIES = _child('strategy', root.STRATEGIES, ())


def _entries(entry: Any, path: str) -> List[tuple]:
    """(key path, config dict) of a config entry, or of each entry of a list."""
    if isinstance(entry, (list, tuple)):
        return [(f'{path}.{i}', e) for i, e in enumerate(entry) if isinstance(e, dict)]
    return [(path, entry)] if isinstance(entry, dict) else []


def _resolve(registry: Registry, key: Any, scope: Optional[str]) -> Any:
    if not isinstance(key, str):
        return key
    with registry.switch_scope_and_registry(scope) as found_in:
        return found_in.get(key)


def _loop_class(loop: dict, split: str, scope: Optional[str]) -> Any:
    """The loop class mmengine's Runner builds from ``train_cfg``/``val_cfg``/``test_cfg``."""
    from mmengine.runner import (EpochBasedTrainLoop, IterBasedTrainLoop, TestLoop,
                                 ValLoop)
    if 'type' in loop:
        return _resolve(root.LOOPS, loop['type'], scope)
    if split != 'train':
        return ValLoop if split == 'val' else TestLoop
    by_epoch = loop.get('by_epoch', 'max_epochs' in loop or 'max_iters' not in loop)
    return EpochBasedTrainLoop if by_epoch else IterBasedTrainLoop


def check_config_types(cfg: Any) -> None:
    """Check what mmengine's Runner builds from ``cfg`` through its root registries (the model,
    datasets and their pipelines, hooks, optimizer wrapper and optimizer, schedulers,
    evaluators, visualizer), its loops (``train_cfg``, ``val_cfg``, ``test_cfg``) and its
    dataloaders, none of which a mimlab registry's ``build`` sees: an unknown ``type``
    (:func:`check_type`) and a key the component does not take (:func:`check_arguments`, raised
    with the key path in ``path``). The parts inside them (a model's backbone, neck and head) are
    checked when mimlab's registries build them."""
    from torch.utils.data import DataLoader
    scope = cfg.get('default_scope')
    hooks = cfg.get('default_hooks') or {}
    checks = [(root.MODELS, _entries(cfg.get('model'), 'model'), ()),
              (root.HOOKS, [e for name, hook in hooks.items()
                            for e in _entries(hook, f'default_hooks.{name}')]
               + _entries(cfg.get('custom_hooks') or [], 'custom_hooks'), ()),
              # the runner converts epoch-based schedulers itself
              (root.PARAM_SCHEDULERS, _entries(cfg.get('param_scheduler') or [],
                                               'param_scheduler'), ('convert_to_iter_based',)),
              (root.VISUALIZERS, _entries(cfg.get('visualizer'), 'visualizer'), ())]
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader') or {}
        dataset = loader.get('dataset')
        evaluator = cfg.get(f'{split}_evaluator')
        evaluator_path = f'{split}_evaluator'
        if isinstance(evaluator, dict) and 'metrics' in evaluator:  # an Evaluator of metrics
            evaluator, evaluator_path = evaluator['metrics'], f'{evaluator_path}.metrics'
        checks += [(root.DATASETS, _entries(dataset, f'{split}_dataloader.dataset'), ()),
                   (root.TRANSFORMS, _entries((dataset or {}).get('pipeline') or [],
                                              f'{split}_dataloader.dataset.pipeline'), ()),
                   (root.METRICS, _entries(evaluator, evaluator_path), ())]
    optim_wrapper = cfg.get('optim_wrapper') or {}
    checks += [(root.OPTIMIZERS, _entries(optim_wrapper.get('optimizer'),
                                          'optim_wrapper.optimizer'), ())]
    for registry, entries, extra in checks:
        for path, entry in entries:
            check_type(registry, entry.get('type'), scope)
            _check_at(path, _resolve(registry, entry.get('type'), scope), entry, extra)
    _check_backbone(cfg.get('model'), scope)

    if isinstance(optim_wrapper, dict) and optim_wrapper:
        kind = optim_wrapper.get('type', 'OptimWrapper')
        check_type(root.OPTIM_WRAPPERS, kind, scope)
        # the wrapper constructor takes these out before building the wrapper
        _check_at('optim_wrapper', _resolve(root.OPTIM_WRAPPERS, kind, scope), optim_wrapper,
                  ('constructor', 'paramwise_cfg'))
    for split in ('train', 'val', 'test'):
        loop = cfg.get(f'{split}_cfg')
        if isinstance(loop, dict):
            if 'type' in loop:
                check_type(root.LOOPS, loop['type'], scope)
            _check_at(f'{split}_cfg', _loop_class(loop, split, scope), loop,
                      ('by_epoch',) if split == 'train' else ())
        loader = cfg.get(f'{split}_dataloader')
        if isinstance(loader, dict):
            # mmengine's Runner.build_dataloader takes num_batch_per_epoch out itself
            _check_at(f'{split}_dataloader', DataLoader, loader, ('num_batch_per_epoch',))


NOT_A_BACKBONE = (
    'A mimlab algorithm (MAE, CAE, ...) is a whole pretraining algorithm (encoder + decoder + '
    'head), not a backbone. Use its encoder: '
    "backbone=dict(type='mimlab.VisionTransformer', arch=..., patch_size=..., "
    "init_cfg=dict(type='Pretrained', checkpoint=CKPT, prefix='backbone.')), or write the encoder "
    'out first with mimlab.apis.export_backbone (tools/model_converters/export_backbone.py).')


def _check_backbone(model: Any, scope: Optional[str]) -> None:
    """Raise :class:`ConfigError` when ``model.backbone`` (an mmseg or mmdet model's) names a
    whole model, a class with a data preprocessor (mmengine's ``BaseModel``), where a backbone
    (a module that returns feature maps) belongs."""
    from mmengine.model import BaseModel
    backbone = model.get('backbone') if isinstance(model, dict) else None
    if not isinstance(backbone, dict):
        return
    cls = _resolve(root.MODELS, backbone.get('type'), scope)
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        raise ConfigError(f'model.backbone: {backbone.get("type")} is a whole model, not a '
                          f'backbone. {NOT_A_BACKBONE}')


def _check_at(path: str, cls: Any, entry: dict, extra) -> None:
    try:
        check_arguments(cls, entry, entry.get('type') if isinstance(entry.get('type'), str)
                        else None, extra)
    except UnknownArgumentError as err:
        err.path = path
        raise
