"""Fixed id lists for `crnkit data split --ids-from FILE`: an official or published split.

Three forms are read:
- NYU's `splits.mat` (`trainNdxs`, `testNdxs`, optionally `valNdxs`): 1-based image numbers
  of the labeled file, so number k is the id `nyu_{k-1:04d}` (nyu source only);
- JSON, an object with any of "train", "val", "test" as lists of ids (a splits.json is one);
- text, one "<split> <id>" per line ("train aachen_000000_000019"); blank lines and lines
  starting with # are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

from crn.data.matfile import read_mat
from crn.errors import UserError

SPLIT_NAMES = ("train", "val", "test")
MAT_KEYS = {"train": "trainNdxs", "val": "valNdxs", "test": "testNdxs"}


def read_id_lists(path: str | Path, source: str) -> dict[str, list[str]]:
    """The ids of each split named by the file at `path` (absent splits are empty)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: id list not found")
    suffix = path.suffix.lower()
    if suffix == ".mat":
        lists = _from_mat(path, source)
    elif suffix == ".json":
        lists = _from_json(path)
    else:
        lists = _from_text(path)
    if not any(lists.values()):
        raise UserError(f"{path}: the id list names no ids")
    return lists


def _from_mat(path: Path, source: str) -> dict[str, list[str]]:
    if source != "nyu":
        raise UserError(
            f"{path}: a .mat id list holds NYU image numbers and applies to the nyu source only"
        )
    data = read_mat(path, tuple(MAT_KEYS.values()))
    if "trainNdxs" not in data and "testNdxs" not in data:
        raise UserError(f"{path}: expected trainNdxs and testNdxs (NYU's splits.mat)")
    lists: dict[str, list[str]] = {}
    for split, key in MAT_KEYS.items():
        numbers = [int(v) for v in data[key].reshape(-1)] if key in data else []
        bad = [n for n in numbers if n < 1]
        if bad:
            raise UserError(f"{path}: {key} holds {bad[0]}; NYU image numbers start at 1")
        lists[split] = [f"nyu_{n - 1:04d}" for n in numbers]
    return lists


def _from_json(path: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read the id list JSON ({err})") from None
    if not isinstance(data, dict) or not any(k in data for k in SPLIT_NAMES):
        raise UserError(f'{path}: expected an object with "train", "val" and/or "test" id lists')
    lists: dict[str, list[str]] = {}
    for split in SPLIT_NAMES:
        ids = data.get(split, [])
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise UserError(f"{path}: '{split}' must be a list of image id strings")
        lists[split] = ids
    return lists


def _from_text(path: Path) -> dict[str, list[str]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read the id list ({err})") from None
    lists: dict[str, list[str]] = {split: [] for split in SPLIT_NAMES}
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split()
        if len(parts) != 2 or parts[0] not in SPLIT_NAMES:
            raise UserError(
                f"{path}:{number}: expected '<split> <id>' with split train, val or test, "
                f"got '{text}'"
            )
        lists[parts[0]].append(parts[1])
    return lists
