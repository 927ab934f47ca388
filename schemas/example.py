"""Arrow schema of a pretraining example: the output of ``pipeline.shards``, read by the loader.

Rows are stored unpadded and unmasked: the loader pads per batch and masks dynamically.
"""

from __future__ import annotations

import pyarrow as pa

EXAMPLE_SCHEMA_NAME = "bertcorpus.example"
EXAMPLE_SCHEMA_VERSION = "1"

# pair_label values. NSP follows google-research/bert and HF BertForPreTraining:
# 0 = B is the true continuation, 1 = B is from another document.
# SOP: 0 = A,B in document order, 1 = swapped. NO_PAIR for single-segment examples.
PAIR_IS_NEXT = 0
PAIR_RANDOM_NEXT = 1
SOP_IN_ORDER = 0
SOP_SWAPPED = 1
NO_PAIR = -1
PAIR_TASKS = ("nsp", "sop", "none")

EXAMPLE_SCHEMA = pa.schema(
    [
        # [CLS] A [SEP] B [SEP] (pairs) or [CLS] A [SEP] (single segment); never padded.
        pa.field("input_ids", pa.list_(pa.int32()), nullable=False),
        pa.field("num_tokens", pa.int32(), nullable=False),
        # Index of B's first token; token_type_ids are 0 before it and 1 from it on.
        # Equals num_tokens for single-segment examples (no B).
        pa.field("segment_b_start", pa.int32(), nullable=False),
        pa.field("pair_label", pa.int8(), nullable=False),  # see PAIR_* / SOP_* / NO_PAIR
        # 1 where a token starts a word (special tokens are words of their own), 0 on
        # continuation pieces ("##x" WordPiece, pieces without a leading "▁"). Whole-word and
        # span masking group tokens by it, whatever the tokenizer family.
        pa.field("word_start", pa.list_(pa.uint8()), nullable=False),
        # Static masks (--static_masks): positions to corrupt and the id placed there.
        # Labels are input_ids at those positions. Null when masking is dynamic.
        pa.field("static_mask_positions", pa.list_(pa.int32())),
        pa.field("static_mask_ids", pa.list_(pa.int32())),
        pa.field("length_bin", pa.int16(), nullable=False),  # index into manifest bin edges
        pa.field("doc_id", pa.string(), nullable=False),  # document of segment A
        pa.field("b_doc_id", pa.string()),  # document of segment B when it differs (NSP random)
    ],
    metadata={
        b"schema_name": EXAMPLE_SCHEMA_NAME.encode(),
        b"schema_version": EXAMPLE_SCHEMA_VERSION.encode(),
    },
)
