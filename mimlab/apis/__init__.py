from .export import convert_checkpoint, export_backbone, export_model
from .features import (data_root_of, extract_split_features, feature_map, load_features,
                       save_features)
from .inference import (heldout_batch, init_model, load_config, pick_samples, prepare_batch,
                        reconstruct)

__all__ = [
    'convert_checkpoint', 'data_root_of', 'export_backbone', 'export_model',
    'extract_split_features', 'feature_map', 'heldout_batch', 'init_model', 'load_config',
    'load_features', 'pick_samples', 'prepare_batch', 'reconstruct', 'save_features'
]
