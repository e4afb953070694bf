"""`crnkit runs list`: the table of runs, and flags for runs trained on other splits."""

from __future__ import annotations

import json

import pytest

from crn import cli
from crn.commands import runs
from crn.engine.checkpoint import save_checkpoint

SHA_A = "a" * 64
SHA_B = "b" * 64


def write_run(folder, model="pix2pix", sha=SHA_A, step=40, vgg=None, losses=None):
    metadata = {"vgg_weights": vgg} if vgg else {}
    save_checkpoint(
        folder / "last.pt",
        {
            "model": model,
            "model_args": {},
            "train_config": {},
            "split_sha256": sha,
            "step": step,
            "epoch": 1,
            "optimizers": {},
            "rng": {},
            "weights": {},
            "metadata": metadata,
            "last_losses": losses or {"total": 1.25},
            "image_size": [32, 64],
            "num_outputs": 1,
        },
    )


@pytest.fixture
def run_dir(tmp_path):
    root = tmp_path / "runs"
    write_run(root / "p2p", losses={"generator.total": 3.5, "discriminator.total": 0.61})
    write_run(root / "enc", model="encdec", step=12, vgg="random", losses={"total": 2.0})
    write_run(root / "old" / "fullres", model="fullres", sha=SHA_B, vgg="random")
    return root


def rows_by_run(rows):
    return {r.run: r for r in rows}


def test_rows_carry_model_step_losses_split_and_vgg(run_dir):
    rows = rows_by_run(runs.list_runs(str(run_dir), None))
    assert sorted(rows) == ["enc", "old/fullres", "p2p"]
    assert (rows["enc"].model, rows["enc"].step, rows["enc"].vgg_weights) == (
        "encdec",
        12,
        "random",
    )
    assert rows["p2p"].losses == {"generator.total": 3.5, "discriminator.total": 0.61}
    assert rows["p2p"].vgg_weights == "-"
    assert rows["old/fullres"].split_sha256 == SHA_B


def test_the_minority_split_is_flagged(run_dir):
    rows = rows_by_run(runs.list_runs(str(run_dir), None))
    assert rows["old/fullres"].flags == ("differs from the majority",)
    assert rows["p2p"].flags == () and rows["enc"].flags == ()


def test_splits_file_is_the_reference_when_given(run_dir, tmp_path):
    splits = tmp_path / "splits.json"
    splits.write_text(json.dumps({"sha256": SHA_B, "train": []}))
    rows = rows_by_run(runs.list_runs(str(run_dir), str(splits)))
    assert rows["old/fullres"].flags == ()
    assert rows["p2p"].flags == ("differs from --splits",)
    assert rows["enc"].flags == ("differs from --splits",)


def test_a_tie_flags_every_row(tmp_path):
    write_run(tmp_path / "one", sha=SHA_A)
    write_run(tmp_path / "two", sha=SHA_B)
    rows = runs.list_runs(str(tmp_path), None)
    assert [r.flags for r in rows] == [("no majority split",)] * 2


def test_table_output_marks_flagged_rows(run_dir, capsys):
    assert cli.main(["runs", "list", str(run_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:6] == ["RUN", "MODEL", "STEP", "SPLIT", "VGG", "LOSSES"]
    flagged = [line for line in lines if line.startswith("!")]
    assert len(flagged) == 1 and "old/fullres" in flagged[0] and SHA_B[:12] in flagged[0]
    p2p = next(line for line in lines if " p2p " in f" {line} ")
    assert "discriminator.total=0.61" in p2p and "generator.total=3.5" in p2p
    assert lines[-1] == "3 run(s); 1 flagged (!): trained on other splits or unreadable"


def test_json_output_lists_every_run(run_dir, capsys):
    assert cli.main(["runs", "list", str(run_dir), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["run"] for d in data] == ["enc", "old/fullres", "p2p"]
    assert data[1]["flags"] == ["differs from the majority"]


def test_unreadable_checkpoint_is_a_flagged_row_not_a_crash(tmp_path, capsys):
    write_run(tmp_path / "good")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "last.pt").write_bytes(b"not a checkpoint")
    rows = rows_by_run(runs.list_runs(str(tmp_path), None))
    assert rows["bad"].flags == ("unreadable",) and "not a readable" in rows["bad"].error
    assert rows["good"].flags == ()


def test_empty_folder_says_so(tmp_path, capsys):
    assert cli.main(["runs", "list", str(tmp_path)]) == 0
    assert "no runs under" in capsys.readouterr().out


def test_bad_input_is_one_line_error(tmp_path, capsys):
    assert cli.main(["runs", "list", str(tmp_path / "nope")]) == 2
    assert "not a folder" in capsys.readouterr().err
    splits = tmp_path / "s.json"
    splits.write_text("{}")
    assert cli.main(["runs", "list", str(tmp_path), "--splits", str(splits)]) == 2
    assert "no 'sha256' field" in capsys.readouterr().err


def test_help_has_an_example(capsys):
    with pytest.raises(SystemExit):
        cli.main(["runs", "list", "--help"])
    assert "example:" in capsys.readouterr().out


def test_many_losses_stay_within_the_column(tmp_path, capsys):
    """pix2pix logs a dozen terms; the table shows the totals and counts the rest."""
    losses = {f"generator.{k}": 0.5 for k in ("g_gan", "g_l1", "g_feat", "p_relu1", "p_relu2")}
    losses |= {f"discriminator.{k}": 0.25 for k in ("d_real", "d_fake", "gp")}
    losses |= {"generator.total": 14.56, "discriminator.total": 0.61}
    write_run(tmp_path / "p2p", losses=losses)
    assert runs.format_losses(losses) == (
        "discriminator.total=0.61 generator.total=14.56 (+8 more)"
    )
    assert cli.main(["runs", "list", str(tmp_path)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in table) < 110
    assert runs.format_losses({"total": 1.996}) == "total=1.996"
