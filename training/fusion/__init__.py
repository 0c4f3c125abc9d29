"""The fusion recipe: data.py (encoder outputs) -> fit.py. See training/README.md."""
