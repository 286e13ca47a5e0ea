from . import algorithms, backbones, heads, necks  # noqa: F401  (registers the components)
