"""Cases (ärenden): what a submission becomes, numbered in the member's own series."""
