"""Docs -> pretraining examples: tokenise, pack pairs, rows, static masks, length bins."""
