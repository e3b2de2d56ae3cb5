"""Articles in: loading, cleaning and chunking with exact character offsets."""
