"""The training engine shared by every generator: interface, registry, trainer, checkpoints."""
