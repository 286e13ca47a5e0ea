# The small dVAE of the demo: 128 codes, one token per 4 x 4 pixels (7 x 7 tokens at 28 px, one per
# 4-px ViT patch). Trained by configs/dvae/, used as the tokenizer of configs/cae/ demo configs.
tokenizer = dict(type='DiscreteVAE', vocab_size=128, hidden_dim=32, code_dim=32,
                 num_downsamples=2, num_res_blocks=1)
