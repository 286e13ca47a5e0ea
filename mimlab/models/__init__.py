from . import algorithms, backbones, data_preprocessors, heads, necks, tokenizers  # noqa: F401  (registration)
