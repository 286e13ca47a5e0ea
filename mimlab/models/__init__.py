from . import algorithms, backbones, heads, necks, tokenizers  # noqa: F401  (registration)
