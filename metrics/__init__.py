"""Automatic metrics of image sets (FID, KID, segmentation score, diversity) -> metrics.csv.

Torch-based; the analysis package reads metrics.csv and never imports this package.
"""
