"""Official MAE (facebookresearch/mae) and timm ViT weights -> a mimlab checkpoint.

    python tools/model_converters/mae_to_mimlab.py IN.pth OUT.pth

See convert.py (this is it with the source fixed).
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from convert import main  # noqa: E402

if __name__ == '__main__':
    main(source='mae')
