"""The face encoder: detection, alignment, expression."""
