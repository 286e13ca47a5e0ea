from .img_data_preprocessor import ImgDataPreprocessor

__all__ = ['ImgDataPreprocessor']
