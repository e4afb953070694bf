"""NYU Depth v2 class mappings: the common 40 and 13 classes, JSON files and `classMapping40.mat`.

The tables are facts re-written here from the public record (see docs/data.md): Gupta,
Arbeláez & Malik (CVPR 2013) map each of NYU v2's 894 labels to 40 classes, as in their
`classMapping40.mat` (`mapClass`, `className`); Couprie, Farabet, Najman & LeCun (ICLR 2013)
merge the 40 into 13, as in the `class13Mapping.mat` distributed with NYU v2 meta data.
A mapping, once parsed, is {"classes": [{name, color}, ...], "map": {"<label>": class}}.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crn.data.classes import classes_from_json, palette_colors
from crn.data.matfile import read_mat
from crn.errors import UserError

NUM_LABELS = 894  # NYU v2's original labels 1..894 (0 = unlabeled)

# Classes 1..37 of the 40 each come from exactly one NYU label, which bears the same name
# (the misspelt 'refridgerator' is NYU's own). Class order is Gupta et al.'s.
NYU40_SINGLE: tuple[tuple[str, int], ...] = (
    ("wall", 21), ("floor", 11), ("cabinet", 3), ("bed", 157), ("chair", 5), ("sofa", 83),
    ("table", 19), ("door", 28), ("window", 59), ("bookshelf", 88), ("picture", 64),
    ("counter", 7), ("blinds", 80), ("desk", 36), ("shelves", 42), ("curtain", 89),
    ("dresser", 169), ("pillow", 119), ("mirror", 122), ("floor mat", 143), ("clothes", 141),
    ("ceiling", 4), ("books", 85), ("refridgerator", 17), ("television", 172), ("paper", 15),
    ("towel", 135), ("shower curtain", 123), ("box", 26), ("whiteboard", 45), ("person", 331),
    ("night stand", 158), ("toilet", 124), ("sink", 24), ("lamp", 144), ("bathtub", 136),
    ("bag", 55),
)  # fmt: skip
# Class 38 (otherstructure) and 39 (otherfurniture); every remaining label is 40 (otherprop).
NYU40_OTHERSTRUCTURE: tuple[int, ...] = (
    8, 25, 33, 38, 51, 53, 57, 58, 62, 65, 79, 94, 104, 112, 134, 153, 215, 216, 223, 225, 238,
    241, 242, 256, 295, 301, 339, 342, 354, 363, 372, 380, 392, 408, 412, 453, 456, 463, 477,
    497, 541, 550, 553, 567, 573, 582, 591, 609, 612, 615, 642, 645, 657, 658, 659, 663, 667,
    668, 686, 700, 702, 777, 778, 782, 850, 861, 868, 874,
)  # fmt: skip
NYU40_OTHERFURNITURE: tuple[int, ...] = (
    12, 43, 48, 50, 87, 106, 111, 161, 163, 174, 183, 204, 214, 219, 221, 224, 236, 262, 278,
    291, 298, 313, 343, 344, 356, 359, 373, 393, 401, 414, 418, 419, 430, 443, 444, 447, 448,
    457, 458, 460, 462, 475, 479, 485, 486, 493, 494, 498, 499, 509, 510, 515, 521, 524, 540,
    549, 551, 554, 556, 558, 576, 580, 608, 625, 703, 734, 770, 772, 797, 800, 803, 804, 813,
    814, 815, 820, 829, 835, 858, 863, 882, 892,
)  # fmt: skip
NYU40_NAMES: tuple[str, ...] = (
    *(name for name, _ in NYU40_SINGLE),
    "otherstructure",
    "otherfurniture",
    "otherprop",
)
NYU13_NAMES: tuple[str, ...] = (
    "bed", "books", "ceiling", "chair", "floor", "furniture", "objects", "picture", "sofa",
    "table", "tv", "wall", "window",
)  # fmt: skip
# The 13-class index (1-based, into NYU13_NAMES) of each of the 40 classes, in their order.
NYU13_FROM_40: tuple[int, ...] = (
    12, 5, 6, 1, 4, 9, 10, 12, 13, 6, 8, 6, 13, 10, 6, 13, 6, 7, 7, 5,
    7, 3, 2, 6, 11, 7, 7, 7, 7, 7, 7, 6, 7, 7, 7, 7, 7, 7, 6, 7,
)  # fmt: skip
BUILTIN = ("nyu40", "nyu13")


def nyu40_table() -> list[int]:
    """The 40-class index (1..40) of each NYU label 1..894, in label order."""
    table = [40] * NUM_LABELS
    for index, (_, label) in enumerate(NYU40_SINGLE, start=1):
        table[label - 1] = index
    for label in NYU40_OTHERSTRUCTURE:
        table[label - 1] = 38
    for label in NYU40_OTHERFURNITURE:
        table[label - 1] = 39
    return table


def _mapping(names: tuple[str, ...] | list[str], table: list[int]) -> dict[str, Any]:
    return {"classes": list(names), "map": {str(k): v for k, v in enumerate(table, start=1)}}


def builtin_mapping(name: str, file_names: list[str], where: str) -> dict[str, Any]:
    """The raw (unparsed) `nyu40` or `nyu13` mapping, after checking the file's label names."""
    if len(file_names) != NUM_LABELS:
        raise UserError(
            f"{where}: the {name} mapping is defined over NYU v2's {NUM_LABELS} labels, but "
            f"this file has {len(file_names)} (pass a JSON mapping for other label sets)"
        )
    for class_name, label in NYU40_SINGLE:
        if file_names[label - 1] != class_name:
            raise UserError(
                f"{where}: label {label} is '{file_names[label - 1]}', but the {name} mapping "
                f"expects '{class_name}' (it assumes NYU v2's own label order)"
            )
    table = nyu40_table()
    if name == "nyu40":
        return _mapping(NYU40_NAMES, table)
    return _mapping(NYU13_NAMES, [NYU13_FROM_40[c - 1] for c in table])


def read_mapping_mat(path: Path, file_names: list[str]) -> dict[str, Any]:
    """The raw mapping of a `classMapping40.mat` (`mapClass` over the labels, `className`)."""
    data = read_mat(path, ("mapClass", "className", "allClassName", "classMapping13"))
    if "classMapping13" in data:
        raise UserError(
            f"{path}: class13Mapping.mat maps the 40 classes to 13, not NYU's labels; "
            "use --mapping nyu13 (the same 13 classes over NYU's labels)"
        )
    if "mapClass" not in data or "className" not in data:
        raise UserError(
            f"{path}: expected the variables mapClass and className of classMapping40.mat"
        )
    table = [int(v) for v in data["mapClass"].reshape(-1)]
    names = data["className"]
    if not isinstance(names, list):
        raise UserError(f"{path}: className must be a cell array of class names")
    if len(table) != len(file_names):
        raise UserError(
            f"{path}: mapClass has {len(table)} entries but the data file has "
            f"{len(file_names)} labels"
        )
    all_names = data.get("allClassName")
    if isinstance(all_names, list) and all_names != list(file_names):
        if len(all_names) != len(file_names):
            raise UserError(
                f"{path}: allClassName has {len(all_names)} names but the data file has "
                f"{len(file_names)} labels"
            )
        pairs = zip(all_names, file_names, strict=True)
        first = next(i for i, (a, b) in enumerate(pairs) if a != b)
        raise UserError(
            f"{path}: allClassName differs from the data file's names at label {first + 1} "
            f"('{all_names[first]}' vs '{file_names[first]}')"
        )
    return _mapping(names, table)


def read_mapping_json(path: Path) -> Any:
    """The raw mapping of a JSON file (validated by `parse_mapping`)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: mapping file not found (or use nyu40 / nyu13)") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read the mapping JSON ({err})") from None


def load_mapping(mapping: str | Path | dict, file_names: list[str]) -> tuple[dict, str]:
    """(raw mapping, where) from a built-in name, a .mat or JSON path, or a parsed dict."""
    if isinstance(mapping, dict):
        return mapping, "mapping"
    if str(mapping) in BUILTIN:
        return builtin_mapping(str(mapping), file_names, str(mapping)), str(mapping)
    path = Path(mapping)
    if path.suffix.lower() == ".mat":
        return read_mapping_mat(path, file_names), str(path)
    return read_mapping_json(path), str(path)


def parse_mapping(mapping: Any, num_original: int, where: str) -> dict[str, Any]:
    """Validate a raw mapping into {"classes": [{name, color}], "map": {str: int}}."""
    if not isinstance(mapping, dict) or "classes" not in mapping or "map" not in mapping:
        raise UserError(f"{where}: a mapping is {{'classes': [...], 'map': {{original: new}}}}")
    raw_classes = mapping["classes"]
    if not isinstance(raw_classes, list):
        raise UserError(
            f"{where}: 'classes' must be a list of class names or {{name, color}} objects, "
            f"got {type(raw_classes).__name__}"
        )
    if not isinstance(mapping["map"], dict):
        raise UserError(
            f"{where}: 'map' must be an object {{\"<original label>\": <new class>}}, "
            f"got {type(mapping['map']).__name__}"
        )
    entries = [dict(c) if isinstance(c, dict) else {"name": c} for c in raw_classes]
    for entry, color in zip(entries, palette_colors(len(entries)), strict=True):
        entry.setdefault("color", list(color))
    classes = classes_from_json(entries, where)
    table: dict[str, int] = {}
    for key, value in mapping["map"].items():
        if not str(key).isdigit() or not 1 <= int(key) <= num_original:
            raise UserError(f"{where}: original label '{key}' is not in 1..{num_original}")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= len(classes):
            raise UserError(
                f"{where}: label {key} maps to {value!r}, expected 0..{len(classes)} "
                f"(0 = unlabeled, k = class k of {len(classes)})"
            )
        table[str(int(key))] = value
    return {"classes": [{"name": c.name, "color": list(c.color)} for c in classes], "map": table}
