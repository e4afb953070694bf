"""`crnkit study export`: responses.csv, study.json, participants.csv (docs/contracts.md, 5)."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of `crnkit study export`."""
    parser.add_argument("--db", required=True, help="SQLite file or database URL (postgresql://…)")
    parser.add_argument("--out", required=True, help="path of responses.csv to write")
    parser.add_argument("--study-id", default=None, help="study to export (needed if several)")
    parser.add_argument(
        "--participants", default=None, help="also write participants.csv (for payments) here"
    )


def run(ns: argparse.Namespace) -> int:
    """Export one study; print a one-line JSON summary of what was written."""
    from study.export import export_study, open_engine

    engine = open_engine(ns.db)
    try:
        summary = export_study(engine, ns.out, ns.study_id, ns.participants)
    finally:
        engine.dispose()
    print(json.dumps(summary))
    return 0
