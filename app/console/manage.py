"""Console pages: manage (filled in by its feature)."""
