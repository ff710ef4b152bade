"""A member's own administration: profile, e-services, staff, audit log."""
