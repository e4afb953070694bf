"""metrics.csv (one row per set × metric) and its per-image companion, merged on rewrite.

A run replaces the rows it recomputed and keeps every other row already in the files, so
metrics computed in separate runs (FID/KID today, segmentation tomorrow) end up together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from crn.errors import UserError
from crn.fsutil import atomic_write_text
from crn.imageset import ImageSet, set_digest
from metrics.networks import Weights

COLUMNS = (
    "dataset",
    "set",
    "metric",
    "value",
    "se",
    "n_images",
    "reference",
    "set_digest",
    "reference_digest",
    "weights",
    "weights_sha256",
    "params",
    "split_sha256",
    "computed_at",
)
IMAGE_COLUMNS = ("dataset", "set", "metric", "image_id", "value", "split_sha256")
_KEY = ["split_sha256", "set", "metric", "reference"]
_IMAGE_KEY = ["split_sha256", "set", "metric"]


def now_utc() -> str:
    """The current time, ISO-8601 UTC to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class MetricRow:
    """One row of metrics.csv."""

    dataset: str
    set: str
    metric: str
    value: float
    n_images: int
    set_digest: str
    weights: str
    weights_sha256: str
    split_sha256: str
    se: float | None = None
    reference: str = ""
    reference_digest: str = ""
    params: str = ""
    computed_at: str = field(default_factory=now_utc)


def row_for(
    iset: ImageSet, metric: str, value: float, weights: Weights, **extra: object
) -> MetricRow:
    """A row about image set `iset`."""
    return MetricRow(
        dataset=iset.dataset,
        set=iset.name,
        metric=metric,
        value=float(value),
        n_images=len(iset.images),
        set_digest=set_digest(iset),
        weights=weights.label,
        weights_sha256=weights.sha256,
        split_sha256=iset.split_sha256,
        **extra,  # type: ignore[arg-type]
    )


def image_rows(iset: ImageSet, metric: str, values: dict[str, float]) -> list[dict[str, object]]:
    """Per-image rows of one set and metric."""
    return [
        {
            "dataset": iset.dataset,
            "set": iset.name,
            "metric": metric,
            "image_id": image_id,
            "value": float(value),
            "split_sha256": iset.split_sha256,
        }
        for image_id, value in sorted(values.items())
    ]


def images_path(out: str | Path) -> Path:
    """The per-image file beside metrics.csv: <stem>_images.csv."""
    out = Path(out)
    return out.with_name(f"{out.stem}_images.csv")


def _read(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame(columns=list(columns))
    try:
        frame = pd.read_csv(path, dtype={"split_sha256": str, "set": str, "image_id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not a readable metrics CSV ({err})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserError(f"{path}: not a crnkit metrics file (missing column {missing[0]})")
    for col in {*_KEY, *_IMAGE_KEY} & set(frame.columns):
        frame[col] = frame[col].fillna("").astype(str)
    return frame


def _merge(old: pd.DataFrame, new: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    if old.empty:
        return new
    replaced = old.set_index(key).index.isin(new.set_index(key).index)
    return pd.concat([old[~replaced], new], ignore_index=True)


def write_metrics(
    out: str | Path, rows: Sequence[MetricRow], per_image: Sequence[dict[str, object]]
) -> tuple[Path, Path]:
    """Merge `rows` into `out` and `per_image` into its per-image file; return both paths."""
    out = Path(out)
    images_out = images_path(out)
    old, old_images = _read(out, COLUMNS), _read(images_out, IMAGE_COLUMNS)
    new = pd.DataFrame([asdict(r) for r in rows], columns=list(COLUMNS))
    frame = _merge(old, new, _KEY).sort_values(["dataset", "set", "metric"], kind="stable")
    atomic_write_text(out, frame.to_csv(index=False, float_format="%.8g"))
    if per_image or not old_images.empty:
        new_images = pd.DataFrame(list(per_image), columns=list(IMAGE_COLUMNS))
        merged = _merge(old_images, new_images, _IMAGE_KEY)
        merged = merged.sort_values(["dataset", "set", "metric", "image_id"], kind="stable")
        atomic_write_text(images_out, merged.to_csv(index=False, float_format="%.8g"))
    return out, images_out
