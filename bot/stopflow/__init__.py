"""The stop workflow: allowlist, confirmation, stop, outcome. Knows nothing of Bolt."""
