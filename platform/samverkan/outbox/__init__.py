"""E-mail as rows in the same transaction as the change that causes them."""
