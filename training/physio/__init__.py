"""The physiology recipe: training.common.stress_predict (features) -> train.py (trees) -> train_shape.py.

See training/README.md."""
