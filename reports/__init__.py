"""reports (built in its own issue)."""
