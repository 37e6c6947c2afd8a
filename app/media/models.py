"""Media tables."""
