"""What a pretrained encoder learned: frozen features, linear probes and the analyses built on
them (``python -m trainer.probe``).

    features       frozen per-layer vectors of words (first sub-token or mean) and sentences
    linear_probe   a seeded logistic-regression probe trained with torch; accuracy
    embryology     POS and sentiment probes at every kept checkpoint and every layer
    contextual     cosine-similarity matrices of ambiguous words per layer; sense separation
    multilingual   language vectors, a language-id probe, mean-shift retrieval on UDHR
    plots          the PNGs (matplotlib, Agg backend)
"""
