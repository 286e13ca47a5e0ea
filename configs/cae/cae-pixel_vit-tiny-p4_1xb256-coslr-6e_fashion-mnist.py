# The CAE demo with the pixel target (raw pixels, so that a picture of the prediction owes
# nothing to the true patch's statistics): the model of the alignment check
# (tools/analysis_tools/cae_alignment_check.py). Without alignment: model.align_weight=0.
_base_ = './cae_vit-tiny-p4_1xb256-coslr-6e_fashion-mnist.py'
model = dict(head=dict(_delete_=True, type='CAEPixelHead', norm_pix=False))
