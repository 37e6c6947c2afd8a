"""WeChat tables."""
