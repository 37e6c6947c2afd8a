"""shops (built in its own issue)."""
