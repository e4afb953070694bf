"""Generators of the crn package (the CRN itself); baselines live in the `baselines` package."""
