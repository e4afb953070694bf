"""Pairwise realism studies served over HTTP and stored through SQLAlchemy."""
