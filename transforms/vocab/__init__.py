"""Train a vocabulary on cleaned Docs: pre-tokenise, count, train, report, tokenizer folder."""
