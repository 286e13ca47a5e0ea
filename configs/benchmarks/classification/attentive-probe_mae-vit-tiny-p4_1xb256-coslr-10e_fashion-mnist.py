# Demo-size attentive probe (CAE's headline probe, usable for any method's encoder): the
# `make demo` encoder frozen, one learnable query cross-attending to all its tokens, BatchNorm
# without affine, a linear layer (AttentiveClsHead). CAE's recipe (official CAE scripts,
# tools/run_attentive.py with --linear_type attentive --use_cls): SGD momentum 0.9, lr 0.4 at a
# total batch of 8,192 (256 x 8 GPUs x 4 nodes, not scaled by the script), weight decay 0, no
# augmentation, cosine after warm-up; here lr 0.4 at batch 256 (not the official lr scaled, which
# would be 0.0125) for 10 epochs with the linear probe demo's 1-epoch warm-up. Another method's
# encoder: set model.backbone.init_cfg.checkpoint (and its arch); random-init baseline:
# --cfg-options model.backbone.init_cfg=None.
_base_ = './linear-probe_mae-vit-tiny-p4_1xb256-coslr-10e_fashion-mnist.py'
model = dict(head=dict(_delete_=True, type='AttentiveClsHead', num_classes=10))
optim_wrapper = dict(optimizer=dict(lr=0.4))
