"""Staff accounts: users, their memberships of members (with a role), signing in and out."""
