"""Experiments built from many runs (above ``apis``: they call its training and inference)."""
