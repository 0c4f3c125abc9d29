"""The physio encoder."""
