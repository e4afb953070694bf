"""Automatic metrics of image sets (FID, KID, segmentation score, diversity) -> metrics.csv.

A package of its own, beside `crn`, `study` and `analysis`: metrics score image sets from
any source (a CRN checkpoint, another code base's imported outputs, the real photos), not
CRN models, and keeping the torch-based code here lets `analysis`, which reads metrics.csv,
stay torch-free.
"""
