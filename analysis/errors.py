"""Errors raised by the analysis package for bad input (torch-free)."""

from crn.errors import UserError


class AnalysisInputError(UserError):
    """Responses, study.json or options that cannot be analysed; the CLI prints it as one line."""
