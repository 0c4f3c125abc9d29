"""The voice recipe: train.py (members, out-of-fold runs, the joined file) -> calibrate.py. See training/README.md."""
