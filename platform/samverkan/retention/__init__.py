"""Retention (gallring): removing the personal data of closed cases once the member's
retention period has passed, while the case row keeps what statistics need."""
