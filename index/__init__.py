"""Storage: embeddings, the FAISS dense index, the lexical index and the article store."""
