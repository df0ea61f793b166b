"""Answering questions: the pipeline from questions to hits over a snapshot
(:mod:`.pipeline`), how meaning, words and names are fused into one score
(:mod:`.ranking`), and the cached vectors of questions already asked
(:mod:`.question_vectors`)."""
