"""Plots, the HTML report and its headless-Chromium rendering, from hand-made tables."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import polars as pl
import pytest
from test_analysis import DECODING, GREEDY, SAMPLE, checks, gens

from goodbadgreedy.analysis.options import StatsOptions
from goodbadgreedy.analysis.stats_tables import stats_tables
from goodbadgreedy.html_report import build_report
from goodbadgreedy.io import write_csv
from goodbadgreedy.lineage import write_lineage
from goodbadgreedy.plan import STATS_FILES
from goodbadgreedy.plots import pass_at_k_plot, sweep_plot, table1_plot
from goodbadgreedy.table1 import table1

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def png_pixels(path: Path) -> tuple[int, int, set[bytes]]:
    """(width, height, a sample of distinct pixels) of an 8-bit RGB/RGBA PNG, with zlib only."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp + 1
    seen: set[bytes] = set()
    prev = bytearray(w * bpp)
    for y in range(h):  # undo PNG filters (spec Sec. 9)
        f, line = raw[y * stride], bytearray(raw[y * stride + 1:(y + 1) * stride])
        for i in range(len(line)):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        prev = line
        if y % 7 == 0:
            seen.update(bytes(line[x:x + 3]) for x in range(0, len(line), bpp * 5))
    return w, h, seen


@pytest.fixture(scope="module")
def result_tree(tmp_path_factory):
    """A small results tree: checks, generations, table1, stats CSVs (with lineage), plots."""
    root = tmp_path_factory.mktemp("results")
    ch = pl.concat([checks("m", "greedy", GREEDY), checks("m", "sample", SAMPLE)])
    ge = pl.concat([gens("m", "greedy", [[5], [7], [9], [11]]), gens("m", "sample", [[10, 20, 30]] * 4)])
    inputs = []
    for cfg in ("greedy", "sample"):
        for kind, df in (("checks", ch), ("generations", ge)):
            p = root / kind / "m" / "b" / f"{cfg}.parquet"
            p.parent.mkdir(parents=True, exist_ok=True)
            df.filter(pl.col("config") == cfg).write_parquet(p)
            inputs.append(p)
    t1 = root / "table1.csv"
    write_csv(table1(ch, ge, "greedy", "sample"), t1)
    write_lineage(t1, stage="aggregate", inputs=inputs)
    stats = {}
    for name, df in stats_tables(ch, ge, DECODING, "greedy", StatsOptions(seed=3, n_boot=300)).items():
        stats[name] = root / "stats" / STATS_FILES[name]
        write_csv(df, stats[name])
        write_lineage(stats[name], stage="stats", inputs=inputs, params={"seed": 3})
    plots = {
        "table1": table1_plot(pl.read_csv(stats["intervals"]), "greedy", "sample", root / "plots" / "table1.png"),
        "pass_at_k": pass_at_k_plot(
            pl.read_csv(stats["passk"], infer_schema_length=None), root / "plots" / "pass_at_k.png"
        ),
    }
    return {"root": root, "table1": t1, "stats": stats, "plots": plots}


def test_plots_are_nontrivial_pngs(result_tree, tmp_path):
    intervals = pl.read_csv(result_tree["stats"]["intervals"])
    sweep = sweep_plot(intervals, "temperature", {"sample": 1.0}, tmp_path / "sweep.png", greedy="greedy")
    for path in [*result_tree["plots"].values(), sweep]:
        w, h, colors = png_pixels(Path(path))
        assert w >= 300 and h >= 200 and len(colors) > 3, path
    # same tables, same bytes (no timestamps in the PNG)
    again = table1_plot(intervals, "greedy", "sample", tmp_path / "again.png")
    assert again.read_bytes() == result_tree["plots"]["table1"].read_bytes()


def _report(tree, **kw) -> str:
    return build_report(
        table1=tree["table1"], stats=tree["stats"], plots=tree["plots"],
        meta={"profile": "test", "outdir": "results", "n_samples": 3, "greedy": "greedy", "sample": "sample",
              "ddof": 1, "confidence": 0.95, "n_boot": 300, "seed": 3}, **kw)


def test_report_is_self_contained_and_has_lineage(result_tree):
    html = _report(result_tree)
    assert html.count("data:image/png;base64,") == 2
    assert "<script" not in html and "http://" not in html
    assert "goodbadgreedy lineage" in html and "--row m,b,greedy" in html
    # every input of the intervals table appears with its sha256 from the sidecar
    import json
    rec = json.loads(Path(f"{result_tree['stats']['intervals']}.lineage.json").read_text())
    for path, digest in rec["inputs"].items():
        assert path in html and digest in html
    assert "No sweep plot" in html and "rank flips" in html.lower() and "maj@k skipped" in html
    assert _report(result_tree) == html  # deterministic


def test_report_embeds_best_of_n_when_present(result_tree, tmp_path):
    csv = tmp_path / "best_of_n.csv"
    pl.DataFrame({"model": ["m"], "benchmark": ["b"], "N": [1], "best": [0.5]}).write_csv(csv)
    png = result_tree["plots"]["table1"]
    html = _report(result_tree, best_of_n=[csv, png])
    assert "Best-of-N" in html and html.count("data:image/png;base64,") == 3


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed (.ci/run installs it)")
def test_report_renders_in_headless_chromium(result_tree, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(_report(result_tree))
    shot = tmp_path / "report.png"
    profile = tmp_path / "chromium-profile"
    cmd = ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
           "--window-size=1280,1600", page.resolve().as_uri()]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    assert shot.stat().st_size > 20_000
    w, h, colors = png_pixels(shot)
    assert (w, h) == (1280, 1600)
    assert len(colors) > 20  # text, tables and the inlined bar chart, not a blank page
