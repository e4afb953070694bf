"""Light, torch-free modules that both `study` and `analysis` import.

`responses` is the response-export contract (docs/contracts.md); `proportions` holds the
preference-rate intervals and tests, used by the analysis report and the study's live admin.
"""
