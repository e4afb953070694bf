"""Statistics, tables, plots and reports over exported study responses."""
