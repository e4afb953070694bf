"""crnkit's model side: data sources, splits, the CRN generator, losses, engine, generation."""
