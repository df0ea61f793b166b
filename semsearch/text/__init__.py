"""Text before it is embedded: which files a path names (:mod:`.sources`), page
chrome removed (:mod:`.cleaning`), passages cut with offsets into the source
(:mod:`.chunking`), and the signals besides meaning: Arabic-aware words for BM25
(:mod:`.lexical`), cross-script names and numbers (:mod:`.names`), and a
question's language (:mod:`.language`)."""
