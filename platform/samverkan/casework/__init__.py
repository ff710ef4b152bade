"""A case worker's day: the inbox, the case, its workflow, notes and export."""
