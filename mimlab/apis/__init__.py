from .inference import init_model, prepare_batch, reconstruct, sample_indices

__all__ = ['init_model', 'prepare_batch', 'reconstruct', 'sample_indices']
