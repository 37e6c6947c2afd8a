"""Citizens (WeChat identities, bearer tokens, H5 sessions) and staff (roles, departments)."""
