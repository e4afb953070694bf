"""Data sources: each reads one on-disk layout and yields (label, photo) pairs by image id."""
