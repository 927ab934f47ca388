"""Facts about text that several stages share: protein residues, and the scripts that are
written without spaces between words."""

from __future__ import annotations

import re

# The 20 standard amino acids; the reader maps the rare ones (selenocysteine U, pyrrolysine O,
# ambiguous B/Z) to X, and the residue tokenizer does the same.
STANDARD_RESIDUES = "ACDEFGHIKLMNPQRSTVWY"
UNKNOWN_RESIDUE = "X"
RARE_RESIDUES = "UZOB"
# Every residue a cleaned protein document may hold.
PROTEIN_ALPHABET = frozenset(STANDARD_RESIDUES + UNKNOWN_RESIDUE)

# Letters of scripts written without spaces: Thai and Lao, Myanmar, Khmer, Tibetan, kana, CJK
# ideographs (extension A, the main block, compatibility, extensions B and later). A regex
# character-class body: quality counts each as a word, dedup shingles them by character,
# sentence splitting joins lines between them without a space.
UNSPACED_RANGES = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u0f00-\u0fff\u3040-\u30ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
)
UNSPACED = re.compile(f"[{UNSPACED_RANGES}]")
