"""Writing an index: the writer that reads changed files, embeds only new text
and hands each backend a whole write (:mod:`.writer`), what a passage is found by
(:mod:`.signals`), and the embedding cache that means no text is embedded twice
(:mod:`.embedding_cache`)."""
