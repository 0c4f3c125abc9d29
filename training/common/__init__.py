"""Shared by every recipe: data readers (``data``, ``fer``, ``ravdess``, ``stress_predict``), the model-file writer
and migration (``model_metadata``), and the bit-for-bit check of model outputs (``model_outputs``)."""
