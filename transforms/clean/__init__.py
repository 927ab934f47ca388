"""Clean RawDocs into Docs: normalise, quality filters, language id, sentences, dedup."""
