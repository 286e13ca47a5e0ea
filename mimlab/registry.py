"""mimlab's registries: children of mmengine's root registries, scope ``mimlab``.

Each registry knows where its modules live (``locations``) and imports them the first time it is
searched, so ``import mimlab`` stays light and a downstream config (mmseg, mmdet) can say
``type='mimlab.VisionTransformer'`` after ``custom_imports=dict(imports=['mimlab'])``: the parent
registry finds this child by its scope and the child imports the backbone module on demand.

An unknown ``type`` is answered with the registered names closest to it ("did you mean ...").
The registry checks its own keys before building (:func:`check_type`): mimlab's registries in
``build``, and :func:`check_config_types` for the entries of a config that mmengine's Runner
builds through its root registries. ``get`` still returns None for a missing name, which
mmengine's scope search relies on (and also for a malformed one, where mmengine would crash).
"""
import difflib
import inspect
import re
from typing import Any, List, Optional

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

    def __init__(self, cls: type, type_name: str, argument: str) -> None:
        self.cls, self.type_name, self.argument = cls, type_name, argument
        matches = difflib.get_close_matches(argument, init_arguments(cls), n=3, cutoff=0.6)
        super().__init__(f'{cls.__name__} has no argument {argument!r}'
                         + (f'; closest valid names: {", ".join(matches)}' if matches else
                            f'; it takes {", ".join(init_arguments(cls))}'))


_UNEXPECTED_ARGUMENT = re.compile(r"got an unexpected keyword argument '(\w+)'")


def unexpected_argument(err: TypeError) -> Optional[str]:
    """The argument named by Python's "got an unexpected keyword argument" error, else None."""
    found = _UNEXPECTED_ARGUMENT.search(str(err))
    return found.group(1) if found else None


def init_arguments(cls: type) -> List[str]:
    """The keyword arguments ``cls(...)`` takes: its ``__init__``'s, and its bases' while each
    passes ``**kwargs`` on."""
    names: List[str] = []
    for klass in cls.__mro__:
        if '__init__' not in klass.__dict__ or klass is object:
            continue
        params = inspect.signature(klass.__dict__['__init__']).parameters.values()
        names += [p.name for p in params if p.name != 'self' and p.kind in (
            p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in names]
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return names


class _MimlabRegistry(Registry):

    def get(self, key: str):
        # mmengine imports '{scope}.registry' for a key 'scope.Name' and crashes with a
        # TypeError on an empty scope ('.Name', found by fuzzing): such a name is simply missing
        if isinstance(key, str) and key.startswith('.'):
            return None
        return super().get(key)

    def build(self, cfg: dict, *args, **kwargs):
        if isinstance(cfg, dict):
            check_type(self, cfg.get('type'), cfg.get('_scope_'))
        try:
            return super().build(cfg, *args, **kwargs)
        except (UnknownTypeError, BuildError, UnknownArgumentError):
            raise  # from a component built inside this one: already explained
        except (TypeError, ValueError) as err:
            # the constructor refused the config: say which component, so that a tool can name
            # the config key in one line (mimlab.engine.errors.one_line_errors)
            type_name = cfg.get('type') if isinstance(cfg, dict) else None
            cls = self.get(type_name) if isinstance(type_name, str) else type_name
            if not isinstance(cls, type):
                raise
            name = type_name if isinstance(type_name, str) else cls.__name__
            argument = unexpected_argument(err) if isinstance(err, TypeError) else None
            if argument is not None and argument in cfg:
                raise UnknownArgumentError(cls, name, argument) from err
            if isinstance(err, ValueError):
                raise BuildError(f'{cls.__name__}: {err}', name) from err
            raise


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


def _types(entry: Any) -> List[Any]:
    """The ``type`` of a config entry, or of each entry of a list."""
    entries = entry if isinstance(entry, (list, tuple)) else [entry]
    return [e.get('type') for e in entries if isinstance(e, dict)]


def check_config_types(cfg: Any) -> None:
    """:func:`check_type` for what mmengine's Runner builds from ``cfg`` through its root
    registries (the model, datasets and their pipelines, hooks, optimizer, schedulers,
    evaluators, visualizer), which never call a mimlab registry's ``build``; the parts inside
    them (a model's backbone, neck and head) are checked when mimlab's registries build them."""
    scope = cfg.get('default_scope')
    checks = [(root.MODELS, _types(cfg.get('model'))),
              (root.HOOKS, _types(list((cfg.get('default_hooks') or {}).values()))
               + _types(cfg.get('custom_hooks') or [])),
              (root.PARAM_SCHEDULERS, _types(cfg.get('param_scheduler') or [])),
              (root.VISUALIZERS, _types(cfg.get('visualizer')))]
    for split in ('train', 'val', 'test'):
        dataset = (cfg.get(f'{split}_dataloader') or {}).get('dataset')
        evaluator = cfg.get(f'{split}_evaluator')
        if isinstance(evaluator, dict) and 'metrics' in evaluator:  # an Evaluator of metrics
            evaluator = evaluator['metrics']
        checks += [(root.DATASETS, _types(dataset)),
                   (root.TRANSFORMS, _types((dataset or {}).get('pipeline') or [])),
                   (root.METRICS, _types(evaluator))]
    optim_wrapper = cfg.get('optim_wrapper') or {}
    checks += [(root.OPTIM_WRAPPERS, _types(optim_wrapper)),
               (root.OPTIMIZERS, _types(optim_wrapper.get('optimizer')))]
    for registry, types in checks:
        for key in types:
            check_type(registry, key, scope)
