"""Console pages: news (filled in by its feature)."""
