"""`crnkit analyze`: the report from exported responses; `crnkit analyze plan`: sample sizes."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from analysis.errors import AnalysisInputError

REPORT_EPILOG = """examples:
  crnkit analyze cityscapes/responses.csv nyu/responses.csv --out report/ --focal crn
  crnkit analyze --db sqlite:///study.sqlite --study-id crn-city --out report/ --bootstrap 5000
  crnkit analyze responses.csv --out report/ --min-catch-accuracy 0.8 --exclude-focus-lost

study.json beside each responses.csv supplies the exclusion defaults; options override it.
Writes index.html, rates.csv, table.md/.tex/.csv, rankings.csv, exclusions.csv,
exposure.png/.svg and diagnostics files into --out.
See also: crnkit analyze plan --help (sample sizes).
"""

PLAN_EPILOG = """examples:
  crnkit analyze plan --rate 0.8 --half-width 0.05
  crnkit analyze plan --rate 0.6 --power 0.8 --alpha 0.05 --icc 0.1 --per-participant 10
"""


def _report_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Preference rates, intervals, tests, rankings, tables, plots and a report.",
        epilog=REPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("responses", nargs="*", help="exported responses.csv file(s)")
    parser.add_argument("--db", help="database URL with the responses_export view")
    parser.add_argument("--study-id", help="analyse only this study")
    parser.add_argument("--study-json", action="append", default=[], help="study.json to use")
    parser.add_argument("--out", required=True, help="output folder for the report")
    table = parser.add_argument_group("table")
    table.add_argument("--focal", help="method the table is about (default: the most compared)")
    table.add_argument(
        "--ci", default="wilson", choices=["wilson", "clopper-pearson", "participant", "two-way"]
    )
    table.add_argument("--columns", default="auto", choices=["auto", "dataset", "exposure"])
    table.add_argument("--exposure", help="exposure shown when columns are data sets")
    stats = parser.add_argument_group("statistics")
    stats.add_argument("--correction", default="holm", choices=["holm", "bh", "none"])
    stats.add_argument("--alpha", type=float, default=0.05, help="test level (default 0.05)")
    stats.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    stats.add_argument("--bootstrap", type=int, default=2000, metavar="N", help="resamples")
    stats.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    _exclusion_args(parser.add_argument_group("exclusions (override study.json)"))
    return parser


def _exclusion_args(group: argparse._ArgumentGroup) -> None:
    flag = argparse.BooleanOptionalAction
    group.add_argument("--min-catch-accuracy", type=float, help="exclude participants below")
    group.add_argument("--min-response-ms", type=float, help="exclude faster answers")
    group.add_argument("--exclude-timing-failures", action=flag, default=None)
    group.add_argument(
        "--timing-tolerance-ms", type=float, help="judge timing by |measured-target| instead"
    )
    group.add_argument("--exclude-focus-lost", action=flag, default=None)
    group.add_argument("--require-complete", action=flag, default=None)
    group.add_argument("--trials-per-participant", type=int)


EXCLUSION_OPTIONS = (
    "min_catch_accuracy",
    "min_response_ms",
    "exclude_timing_failures",
    "timing_tolerance_ms",
    "exclude_focus_lost",
    "require_complete",
    "trials_per_participant",
)


def _plan_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{prog} plan",
        description="Judgments needed for an interval half-width or to detect a rate vs 50 %.",
        epilog=PLAN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rate", type=float, required=True, help="expected preference rate")
    goal = parser.add_mutually_exclusive_group(required=True)
    goal.add_argument("--half-width", type=float, help="target interval half-width (0.05 = 5 pp)")
    goal.add_argument("--power", type=float, help="target power of the test against 50 %%")
    parser.add_argument("--level", type=float, default=0.95, help="interval level")
    parser.add_argument("--alpha", type=float, default=0.05, help="two-sided test level")
    parser.add_argument("--icc", type=float, default=0.0, help="within-participant correlation")
    parser.add_argument("--per-participant", type=float, default=1.0, help="judgments/person")
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def run_plan(argv: list[str], prog: str) -> int:
    """`crnkit analyze plan`: print the judgments needed."""
    from analysis.planner import design_effect, plan_half_width, plan_power

    args = _plan_parser(prog).parse_args(argv)
    deff = design_effect(args.icc, args.per_participant)
    if args.half_width is not None:
        plan = plan_half_width(args.rate, args.half_width, args.level, deff)
    else:
        plan = plan_power(args.rate, args.power, args.alpha, deff)
    if args.json:
        print(json.dumps(plan.as_dict(), indent=2))
        return 0
    print(f"{plan.judgments} judgments per cell ({plan.goal} goal at rate {plan.rate:g})")
    independent = f"  {plan.judgments_independent} if judgments were independent"
    print(f"{independent}; design effect {plan.design_effect:.3g}")
    for key, value in plan.detail.items():
        print(f"  {key}: {value:.4g}")
    return 0


def _options(args: argparse.Namespace):
    from analysis.bootstrap import BootstrapConfig
    from analysis.pipeline import AnalysisOptions, TableOptions

    if not args.responses and args.db is None:
        raise AnalysisInputError("give responses.csv file(s) or --db URL")
    if not 0 < args.alpha < 1:
        raise AnalysisInputError(f"--alpha {args.alpha} must be between 0 and 1")
    overrides = {name: getattr(args, name) for name in EXCLUSION_OPTIONS}
    return AnalysisOptions(
        paths=tuple(args.responses),
        db_url=args.db,
        study_id=args.study_id,
        study_json=tuple(args.study_json),
        exclusion_overrides={k: v for k, v in overrides.items() if v is not None},
        bootstrap=BootstrapConfig(n_resamples=args.bootstrap, seed=args.seed, level=args.level),
        table=TableOptions(args.focal, args.columns, args.exposure, args.ci),
        correction=args.correction,
        alpha=args.alpha,
    )


def run_report(argv: list[str], prog: str) -> int:
    """`crnkit analyze FILES --out DIR`: write the report."""
    from analysis.pipeline import analyse
    from analysis.report import write_report
    from analysis.tables import to_markdown

    args = _report_parser(prog).parse_args(argv)
    result = analyse(_options(args))
    written = write_report(result, args.out)
    print(to_markdown(result.table), end="")
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {len(written)} files to {args.out} (open {Path(args.out) / 'index.html'})")
    return 0


def main(argv: list[str], prog: str = "crnkit analyze") -> int:
    """Dispatch `plan` to the planner, anything else to the report."""
    if argv and argv[0] == "plan":
        return run_plan(argv[1:], prog)
    return run_report(argv, prog)
