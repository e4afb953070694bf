"""Agreement of metrics.csv with people: matching, Kendall tau, per-image tau, report, CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

from analysis.agreement import image_win_rates, read_metrics
from analysis.bootstrap import BootstrapConfig
from analysis.errors import AnalysisInputError
from analysis.pipeline import AGREEMENT_FILES, AnalysisOptions, analyse
from analysis.ranking import rank_methods
from crn import cli

SPLIT = "ab" * 32
# Human order in SMALL: real > crn > encdec > pix2pix.
FID = {"crn": 20.0, "encdec": 40.0, "pix2pix": 60.0}
MIOU = {"real": 0.8, "crn": 0.6, "encdec": 0.4, "pix2pix": 0.3}


def metric_row(name: str, metric: str, value: float, **extra: object) -> dict[str, object]:
    row = {
        "dataset": "synthetic",
        "set": name,
        "metric": metric,
        "value": value,
        "se": np.nan,
        "n_images": 12,
        "reference": "real",
        "set_digest": f"digest-{name}",
        "reference_digest": "digest-real",
        "weights": "inception:pt_inception-2015-12-05-6726825d.pth",
        "weights_sha256": "f" * 64,
        "params": "",
        "split_sha256": SPLIT,
        "computed_at": "2025-01-01T00:00:00+00:00",
    }
    return row | extra


@pytest.fixture
def study(tmp_path, export_csv):
    """A simulated export, its kept judgments, and metrics.csv with a per-image file."""
    csv = export_csv
    kept = analyse(AnalysisOptions(paths=(str(csv),))).exclusions.kept
    rows = [metric_row(m, "fid", v) for m, v in FID.items()]
    rows += [metric_row(m, "seg_miou", v, reference="labels") for m, v in MIOU.items()]
    rows.append(metric_row("crn", "kid", 0.01, se=0.002))
    metrics = tmp_path / "metrics.csv"
    pd.DataFrame(rows).to_csv(metrics, index=False)
    crn_rates = image_win_rates(kept).query("method == 'crn'")
    images = pd.DataFrame(
        {
            "dataset": "synthetic",
            "set": "crn",
            "metric": "seg_miou",
            "image_id": crn_rates["image_id"],
            "value": crn_rates["mean"] * 0.5 + 0.1,  # monotone in the win rate: tau = 1
            "split_sha256": SPLIT,
        }
    )
    images.to_csv(tmp_path / "metrics_images.csv", index=False)
    return csv, metrics, kept


def run_agreement(csv, metrics, n=200):
    options = AnalysisOptions(
        paths=(str(csv),), metrics=str(metrics), bootstrap=BootstrapConfig(n_resamples=n, seed=1)
    )
    return analyse(options)


def test_methods_get_human_strength_beside_their_metrics(study):
    csv, metrics, kept = study
    result = run_agreement(csv, metrics)
    table = result.agreement.methods.set_index("method")
    assert set(table.index) == {"crn", "encdec", "pix2pix", "real"}
    assert np.isnan(table.loc["real", "fid"]) and table.loc["crn", "fid"] == 20.0
    assert table.loc["crn", "kid_se"] == 0.002
    # The strengths are the Bradley-Terry fit that rankings.csv reports for the headline stratum.
    ranks = rank_methods(kept, BootstrapConfig(n_resamples=20))[0]
    ranks = ranks[ranks["exposure"] == "unlimited"].set_index("method")
    for method in table.index:
        assert table.loc[method, "strength"] == pytest.approx(
            ranks.loc[method, "strength"], abs=1e-6
        )
    assert (table["strength_lo"] <= table["strength"]).all()
    assert (table["strength"] <= table["strength_hi"]).all()


def test_kendall_tau_across_methods_with_a_bootstrap_interval(study):
    csv, metrics, _ = study
    agreement = run_agreement(csv, metrics).agreement
    tau = agreement.tau.set_index("metric")
    methods = agreement.methods.set_index("method")
    # Independent check: scipy on the oriented metric (FID negated) and the strengths.
    have = methods["fid"].notna()
    expected = kendalltau(-methods.loc[have, "fid"], methods.loc[have, "strength"]).statistic
    assert tau.loc["fid", "tau"] == pytest.approx(expected) == pytest.approx(1.0)
    assert tau.loc["fid", "methods"] == 3 and tau.loc["seg_miou", "methods"] == 4
    assert tau.loc["seg_miou", "tau"] == pytest.approx(1.0)
    assert (
        -1 <= tau.loc["seg_miou", "tau_lo"] <= 1.0 == pytest.approx(tau.loc["seg_miou", "tau_hi"])
    )
    assert tau.loc["fid", "direction"] == "lower is better"
    assert "kid" not in tau.index  # one method only


def test_per_image_tau_between_win_rate_and_metric(study):
    csv, metrics, _ = study
    images = run_agreement(csv, metrics).agreement.images
    row = images[(images["method"] == "crn") & (images["metric"] == "seg_miou")].iloc[0]
    assert row["tau"] == pytest.approx(1.0) and row["images"] == 12 and row["p_value"] < 0.01


def test_sets_are_matched_by_the_digest_people_saw(study, tmp_path):
    csv, metrics, _ = study
    doc = json.loads((csv.parent / "study.json").read_text())
    doc["imagesets"]["pix2pix"]["sha256"] = "digest-p2p-renamed"
    doc["imagesets"]["crn"]["sha256"] = "digest-crn-other"
    (csv.parent / "study.json").write_text(json.dumps(doc))
    frame = pd.read_csv(metrics)
    frame.loc[frame["set"] == "pix2pix", ["set", "set_digest"]] = ["p2p", "digest-p2p-renamed"]
    frame.to_csv(metrics, index=False)
    result = run_agreement(csv, metrics, n=50)
    table = result.agreement.methods.set_index("method")
    assert table.loc["pix2pix", "fid"] == 60.0
    assert any("of 'crn' was computed on other images" in note for note in result.notes)


def test_cli_writes_the_tables_and_report_section(study, tmp_path, capsys):
    csv, metrics, _ = study
    out = tmp_path / "report"
    args = ["analyze", str(csv), "--out", str(out), "--bootstrap", "50", "--metrics", str(metrics)]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "| method | people (BT) | FID ↓ | KID ↓ | mIoU ↑ |" in printed
    for name in AGREEMENT_FILES:
        assert (out / name).is_file(), name
    html = (out / "index.html").read_text()
    assert "Automatic metrics and how they agree with people" in html
    assert "0.01 ± 0.002" in (out / "metrics_table.md").read_text()
    assert "\\toprule" in (out / "metrics_table.tex").read_text()
    settings = json.loads((out / "analysis.json").read_text())
    assert settings["metrics"] == str(metrics)


def test_bad_metrics_files_get_one_line_errors(tmp_path, capsys):
    with pytest.raises(AnalysisInputError, match="no such file"):
        read_metrics(tmp_path / "none.csv")
    (tmp_path / "m.csv").write_text("set,metric\ncrn,fid\n")
    with pytest.raises(AnalysisInputError, match="missing column 'dataset'"):
        read_metrics(tmp_path / "m.csv")


def test_analysis_never_imports_torch_or_the_metrics_package():
    code = (
        "import sys, analysis.cli, analysis.pipeline, analysis.report, analysis.agreement, "
        "analysis.agreement_tables; "
        "bad = [m for m in sys.modules if m == 'torch' or m.split('.')[0] == 'metrics']; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
