"""Procedural rendering of the synthetic street scenes (vectorised numpy, pure functions)."""
