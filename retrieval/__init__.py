"""Finding passages and building answers with exact-span citations."""
