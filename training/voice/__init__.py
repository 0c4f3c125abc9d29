"""The voice recipe: train.py (members, out-of-fold runs, the joined file) -> calibrate.py; train_speech_music.py.

See training/README.md."""
