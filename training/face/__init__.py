"""The face recipe: train.py -> export.py -> quantize.py; prune.py -> train.py (stage 1) -> early_exit.py.

See training/README.md."""
