"""Which municipality a request belongs to, and keeping every query inside it."""
