"""Read raw corpora into RawDocs: Wikipedia dumps, Gutenberg books, FASTA, plain text."""
