"""services_nearby (built in its own issue)."""
