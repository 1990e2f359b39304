"""numpy's side of the .npy / .npz / CSV tests of org.lens4j.data (src/test/java/org/lens4j/data).

    python npy_interop.py IN_DIR OUT_DIR

1. Reads every .npy, .npz and .csv file that Java wrote into IN_DIR with numpy (never with
   allow_pickle) and the csv module, and reports what it found in OUT_DIR/report.json: per array
   the dtype as numpy spells it, the shape, the header's format version and the C-order
   little-endian bytes as hex; per CSV the parsed records.
2. Writes arrays with numpy into OUT_DIR/numpy (every dtype and shape, big-endian, Fortran order,
   format versions 1.0 / 2.0 / 3.0, .npz, and files Java must refuse) and describes them in
   OUT_DIR/numpy/manifest.json the same way.
Not a pytest module: the Java tests run it in the project's venv.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np


def describe(a: np.ndarray) -> dict:
    c = np.ascontiguousarray(a)
    le = c.astype(c.dtype.newbyteorder("<")) if c.dtype.byteorder == ">" else c
    return {"dtype": a.dtype.str, "shape": list(a.shape), "hex": le.tobytes().hex()}


def version(path: Path) -> str:
    head = path.read_bytes()[:8]
    return f"{head[6]}.{head[7]}"


def report(in_dir: Path) -> dict:
    out: dict = {"npy": {}, "npz": {}, "csv": {}}
    for p in sorted(in_dir.glob("*.npy")):
        d = describe(np.load(p, allow_pickle=False))
        d["version"] = version(p)
        out["npy"][p.name] = d
    for p in sorted(in_dir.glob("*.npz")):
        with np.load(p, allow_pickle=False) as z:
            out["npz"][p.name] = {k: describe(z[k]) for k in z.files}
    for p in sorted(in_dir.glob("*.csv")):
        with open(p, newline="", encoding="utf-8") as f:
            out["csv"][p.name] = list(csv.reader(f))
    return out


def values(dtype: np.dtype, shape: tuple) -> np.ndarray:
    n = int(np.prod(shape, dtype=np.int64))
    if dtype.kind == "f":
        base = np.array([0.0, -0.0, 1.5, -2.25, np.nan, np.inf, -np.inf, 1e-7, 3.140625, 65504.0, 0.1], dtype=np.float64)
    elif dtype.kind == "b":
        base = np.array([True, False, True, True, False])
    else:
        info = np.iinfo(dtype)
        base = np.array([0, 1, info.max, info.min, 42, info.max - 1], dtype=np.int64)
    return base[np.arange(n) % len(base)].astype(dtype.newbyteorder("=")).reshape(shape).astype(dtype)


def fixtures(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict = {}

    def save(name: str, a: np.ndarray, fmt_version: tuple | None = None) -> None:
        path = out / name
        if fmt_version is None:
            np.save(path, a)
        else:
            with open(path, "wb") as f:
                np.lib.format.write_array(f, a, version=fmt_version)
        d = describe(a)
        d["version"] = version(path)
        manifest[name] = d

    shapes = {"0d": (), "empty": (0,), "empty3": (2, 0, 3), "v": (5,), "m": (2, 3), "t": (2, 3, 4)}
    for code in ["<f4", "<f8", "<f2", "<i8", "<i4", "<i2", "|i1", "|u1", "|b1"]:
        for sname, shape in shapes.items():
            save(f"{code[1:]}_{sname}.npy", values(np.dtype(code), shape))
    save("big_f4.npy", values(np.dtype(">f4"), (2, 3)))
    save("big_i8.npy", values(np.dtype(">i8"), (4,)))
    save("big_f2_0d.npy", values(np.dtype(">f2"), ()))
    save("fortran_f4.npy", np.asfortranarray(values(np.dtype("<f4"), (2, 3))))
    save("fortran_i2.npy", np.asfortranarray(values(np.dtype("<i2"), (2, 3, 4))))
    save("fortran_big_f8.npy", np.asfortranarray(values(np.dtype(">f8"), (3, 4))))
    save("v1_f4.npy", values(np.dtype("<f4"), (3, 2)), (1, 0))
    save("v2_i4.npy", values(np.dtype("<i4"), (2, 2)), (2, 0))
    save("v3_f8.npy", values(np.dtype("<f8"), (4,)), (3, 0))

    np.savez(out / "stored.npz", a=values(np.dtype("<f4"), (2, 3)), b=values(np.dtype("<i8"), (4,)))
    np.savez_compressed(out / "deflated.npz", **{"blocks.0.hook_resid_pre": values(np.dtype("<f4"), (1, 3, 4)),
                                                 "mask": values(np.dtype("|b1"), (3,))})
    for name in ["stored.npz", "deflated.npz"]:
        with np.load(out / name) as z:
            manifest[name] = {k: describe(z[k]) for k in z.files}

    # files Java must refuse (written by numpy, never loaded by Java with pickle)
    np.save(out / "bad_complex.npy", np.array([1 + 2j, 3j], dtype="<c8"))
    np.save(out / "bad_object.npy", np.array([1, "a", None], dtype=object), allow_pickle=True)
    np.save(out / "bad_structured.npy", np.zeros(3, dtype=[("a", "<i4"), ("b", "<f4")]))
    np.save(out / "bad_unicode.npy", np.array(["abc", "d"]))
    np.save(out / "bad_uint16.npy", np.arange(3, dtype="<u2"))
    np.save(out / "bad_datetime.npy", np.array(["2024-01-01"], dtype="datetime64[ns]"))
    return manifest


def main() -> None:
    in_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report(in_dir)))
    manifest = fixtures(out_dir / "numpy")
    (out_dir / "numpy" / "manifest.json").write_text(json.dumps(manifest))


if __name__ == "__main__":
    main()
