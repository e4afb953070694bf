"""Contract 1 (docs/contracts.md): data sources, class lists, splits and the paired torch dataset.

Importing this package is cheap and torch-free; `crn.data.dataset` is the only module that
imports torch.
"""
