"""Reading MATLAB .mat files of either kind: v5/v7 (scipy.io) and v7.3 (HDF5, h5py).

NYU ships its labeled data as v7.3, but its `splits.mat` and Gupta et al.'s
`classMapping40.mat` are older v5 files; a user may re-save either kind, so both are read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from crn.errors import UserError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_hdf5(path: Path) -> bool:
    """Whether `path` is an HDF5 file (MATLAB -v7.3 saves put the signature at byte 512)."""
    try:
        with open(path, "rb") as f:
            head = f.read(520)
    except OSError as err:
        raise UserError(f"{path}: cannot read ({err})") from None
    return head[:8] == HDF5_SIGNATURE or head[512:520] == HDF5_SIGNATURE


def read_mat(path: str | Path, keys: tuple[str, ...]) -> dict[str, Any]:
    """The variables `keys` present in a .mat file: numeric arrays, or lists of strings.

    Numeric arrays keep MATLAB's (row, column) shape; cell arrays of strings become flat
    lists. Variables that are absent are left out of the result.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: .mat file not found")
    if is_hdf5(path):
        return _read_v73(path, keys)
    return _read_v5(path, keys)


def _read_v5(path: Path, keys: tuple[str, ...]) -> dict[str, Any]:
    import scipy.io
    from scipy.io.matlab import MatReadError

    try:
        data = scipy.io.loadmat(path, variable_names=list(keys))
    except (OSError, ValueError, TypeError, NotImplementedError, MatReadError) as err:
        raise UserError(f"{path}: cannot read as a MATLAB .mat file ({err})") from None
    out: dict[str, Any] = {}
    for key in keys:
        if key not in data:
            continue
        value = data[key]
        out[key] = _cell_strings(value, path, key) if value.dtype == object else value
    return out


def _cell_strings(value: np.ndarray, path: Path, key: str) -> list[str]:
    """A v5 cell array of char arrays as a flat list of str."""
    strings = []
    for item in value.reshape(-1, order="F"):
        chars = np.asarray(item).reshape(-1)
        if chars.size == 0:
            strings.append("")
        elif chars.dtype.kind == "U":
            strings.append(str(chars[0]))
        else:
            raise UserError(f"{path}: '{key}' must be a cell array of strings")
    return strings


def _read_v73(path: Path, keys: tuple[str, ...]) -> dict[str, Any]:
    import h5py

    out: dict[str, Any] = {}
    try:
        with h5py.File(path, "r") as f:
            for key in keys:
                if key not in f:
                    continue
                data = f[key]
                if data.dtype == h5py.ref_dtype:
                    out[key] = hdf5_strings(f, data, path, key)
                else:
                    out[key] = np.asarray(data).T  # HDF5 stores MATLAB arrays transposed
    except OSError as err:
        raise UserError(f"{path}: cannot read as HDF5 / MATLAB v7.3 ({err})") from None
    return out


def hdf5_strings(f: Any, data: Any, path: Path, key: str) -> list[str]:
    """A v7.3 cell array of strings (object references to uint16 char arrays) as str."""
    import h5py

    strings = []
    for item in np.asarray(data).reshape(-1):
        if isinstance(item, h5py.Reference):
            chars = np.asarray(f[item]).reshape(-1)
            strings.append("".join(chr(int(c)) for c in chars))
        elif isinstance(item, bytes):
            strings.append(item.decode("utf-8"))
        else:
            raise UserError(f"{path}: '{key}' must hold strings (a MATLAB cell array)")
    return strings
