"""The explicit registry of trainable models: name -> "module:Class", imported lazily."""

from __future__ import annotations

import importlib

from crn.errors import UserError

MODELS: dict[str, str] = {
    "crn": "crn.models.crn:CRNModel",
    "pix2pix": "baselines.pix2pix:Pix2PixModel",
    "encdec": "baselines.encdec:EncDecModel",
    "fullres": "baselines.fullres:FullResModel",
    "crn-l1": "baselines.crn_l1:CRNL1Model",
}


def get_model_class(name: str) -> type:
    """Import and return the model class registered as `name`."""
    if name not in MODELS:
        raise UserError(f"unknown model '{name}' (expected one of: {', '.join(MODELS)})")
    module_name, _, class_name = MODELS[name].partition(":")
    module = importlib.import_module(module_name)
    cls = getattr(module, class_name, None)
    if cls is None:
        raise UserError(f"model '{name}': {module_name} has no class {class_name}")
    return cls
