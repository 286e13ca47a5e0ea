"""mimlab's registries: children of mmengine's root registries, scope ``mimlab``.

Each registry knows where its modules live (``locations``) and imports them the first time it is
searched, so ``import mimlab`` stays light and a downstream config (mmseg, mmdet) can say
``type='mimlab.VisionTransformer'`` after ``custom_imports=dict(imports=['mimlab'])``: the parent
registry finds this child by its scope and the child imports the backbone module on demand.
"""
from mmengine import registry as root
from mmengine.registry import Registry


def _child(name: str, parent: Registry, locations=()) -> Registry:
    return Registry(name, parent=parent, scope='mimlab', locations=list(locations))


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
