"""The audit log: who viewed, exported or changed what, when, from where."""
