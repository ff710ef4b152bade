"""The hub: every member at a glance, onboarding and offboarding, the catalogue's versions,
the contact centre."""
