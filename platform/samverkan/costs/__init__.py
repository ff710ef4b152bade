"""Sharing the platform's costs between members: pools, keys, immutable allocation runs."""
