"""Training scripts for cxsense's shipped models (not part of the installed package)."""
