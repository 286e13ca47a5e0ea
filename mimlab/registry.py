"""mimlab's registries: children of mmengine's root registries, scope ``mimlab``.

Each registry knows where its modules live (``locations``) and imports them the first time it is
searched, so ``import mimlab`` stays light and a downstream config (mmseg, mmdet) can say
``type='mimlab.VisionTransformer'`` after ``custom_imports=dict(imports=['mimlab'])``: the parent
registry finds this child by its scope and the child imports the backbone module on demand.

An unknown ``type`` is answered with the registered names closest to it ("did you mean ...").
Only ``build`` is changed: ``get`` still returns None for a missing name, which mmengine's scope
search relies on (and also for a malformed one, where mmengine would crash).
"""
import difflib
import re
from typing import List, Optional

from mmengine import registry as root
from mmengine.registry import Registry

# mmengine's build_from_cfg: '{type} is not in the {scope}::{name} registry. Please check ...'
_NOT_REGISTERED = re.compile(r'([\w.]+) is not in the (\w+)::([\w ]+) registry')


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


def unknown_type_message(message: str) -> Optional[str]:
    """One line for an error that mmengine raised on an unknown ``type`` in one of mimlab's
    registries (possibly wrapped in other errors' messages), with the closest registered names;
    None for any other error."""
    found = _NOT_REGISTERED.search(message)
    registry = found and _REGISTRIES.get((found.group(2), found.group(3)))
    if registry is None:
        return None
    key = found.group(1)
    matches = close_matches(registry, key)
    if matches:
        return (f'{key!r} is not a registered {registry.name} type: did you mean '
                f'{" or ".join(repr(m) for m in matches)}?')
    known = sorted(registry.module_dict)
    return (f'{key!r} is not a registered {registry.name} type; mimlab has '
            f'{", ".join(known[:20])}{" ..." if len(known) > 20 else ""}')


class UnknownTypeError(KeyError):
    """A config names a ``type`` that no registry in scope holds; the message suggests names."""

    def __str__(self) -> str:
        return str(self.args[0])  # KeyError would quote it


def explain_unknown_type(err: KeyError) -> Optional[str]:
    """The one-line message for an unknown-type error from mimlab's registries, else None."""
    if isinstance(err, UnknownTypeError):
        return str(err)
    return unknown_type_message(str(err.args[0]) if err.args else '')


class _MimlabRegistry(Registry):

    def get(self, key: str):
        # mmengine imports '{scope}.registry' for a key 'scope.Name' and crashes with a
        # TypeError on an empty scope ('.Name', found by fuzzing): such a name is simply missing
        if isinstance(key, str) and key.startswith('.'):
            return None
        return super().get(key)

    def build(self, cfg: dict, *args, **kwargs):
        try:
            return super().build(cfg, *args, **kwargs)
        except UnknownTypeError:
            raise
        except KeyError as err:
            message = explain_unknown_type(err)
            if message is None:
                raise
            raise UnknownTypeError(message) from err


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

_REGISTRIES = {(r.scope, r.name): r for r in globals().values() if isinstance(r, Registry)}
