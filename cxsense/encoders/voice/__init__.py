"""The voice encoder."""
