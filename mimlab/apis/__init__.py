from .export import convert_checkpoint, export_backbone
from .inference import (build_split_dataset, heldout_batch, init_model, load_config,
                        prepare_batch, reconstruct, sample_indices)

__all__ = [
    'build_split_dataset', 'heldout_batch', 'init_model', 'load_config', 'prepare_batch',
    'reconstruct', 'sample_indices', 'export_backbone',
    'convert_checkpoint'
]
