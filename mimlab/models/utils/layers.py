"""Small layer helpers shared by the models."""
from functools import partial

import torch.nn as nn

# The LayerNorm of MAE's (and timm's) ViTs: eps 1e-6, so converted official weights behave alike.
LayerNorm6 = partial(nn.LayerNorm, eps=1e-6)
