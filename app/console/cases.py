"""Console pages: cases (filled in by its feature)."""
