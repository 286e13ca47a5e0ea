"""mimlab's registries: children of mmengine's root registries, scope ``mimlab``.

Each registry knows where its modules live (``locations``) and imports them the first time it is
searched, so ``import mimlab`` stays light and a downstream config (mmseg, mmdet) can say
``type='mimlab.VisionTransformer'`` after ``custom_imports=dict(imports=['mimlab'])``: the parent
registry finds this child by its scope and the child imports the backbone module on demand.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='mimlab', locations=['mimlab.models'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='mimlab',
                    locations=['mimlab.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS, scope='mimlab',
                         locations=['mimlab.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='mimlab',
                      locations=['mimlab.datasets.transforms'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='mimlab', locations=['mimlab.engine'])
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope='mimlab',
                          locations=['mimlab.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor',
                                      parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                      scope='mimlab', locations=['mimlab.engine'])
PARAM_SCHEDULERS = Registry('parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS,
                            scope='mimlab', locations=['mimlab.engine'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='mimlab',
                   locations=['mimlab.evaluation'])
VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS, scope='mimlab',
                       locations=['mimlab.visualization'])
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS, scope='mimlab',
                       locations=['mimlab.visualization'])
