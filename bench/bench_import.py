"""Import benchmark: a ~1 GB SCORM package, ``unzip -q`` vs ``scorm.packaging.extract_package``.

Usage::

    python bench/bench_import.py                 # 1024 MB package
    python bench/bench_import.py --size-mb 128   # quicker

It generates (in a temporary folder) a SCORM 2004 package made mostly of incompressible
"video" files plus a few hundred small course files, then measures in the same run:

* the baseline: the system ``unzip -q`` (if absent: Python's ``zipfile.extractall``, and the
  table says so);
* ours: ``extract_package`` (which also hashes the package, validates every entry, checks
  ratios/sizes/CRCs while streaming and renames the result into place).

Each side runs in its own child process; peak RSS comes from
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a wrapper that waited only for that child.
Each side runs ``--repeat`` times (default 3) in alternating order with ``sync`` between runs
(so neither pays for the other's dirty-page writeback); the median wall time is reported.
The package is read once beforehand, so both sides read it from the page cache.
Target (DESIGN.md §8): peak RSS of our import ≤ 150 MB, throughput at disk speed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RSS_TARGET_MB = 150

MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="bench.video.course" version="1"
    xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
    xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3"
    xmlns:imsss="http://www.imsglobal.org/xsd/imsss">
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
  <organizations default="org">
    <organization identifier="org"><title>Benchmark video course</title>
{items}
    </organization>
  </organizations>
  <resources>
{resources}
  </resources>
</manifest>
"""


def generate(path: Path, size_mb: int, video_mb: int, method: int) -> None:
    """Write the benchmark package (streamed; never holds a file in memory)."""
    videos = max(1, size_mb // video_mb)
    last = size_mb - video_mb * (videos - 1)
    items, resources = [], []
    for i in range(videos):
        items.append(
            f'      <item identifier="i{i}" identifierref="r{i}"><title>Part {i}</title></item>'
        )
        resources.append(
            f'    <resource identifier="r{i}" type="webcontent" adlcp:scormType="sco" '
            f'href="part{i}/index.html"><file href="part{i}/index.html"/>'
            f'<file href="part{i}/video.mp4"/></resource>'
        )
    manifest = MANIFEST.format(items="\n".join(items), resources="\n".join(resources))
    chunk = 1024 * 1024
    with zipfile.ZipFile(path, "w", compression=method, compresslevel=1) as zf:
        zf.writestr("imsmanifest.xml", manifest)
        for i in range(videos):
            page = f"<html><body><video src='video.mp4'></video>{'<p>text</p>' * 200}</body>"
            zf.writestr(f"part{i}/index.html", page + "</html>")
            for j in range(40):
                zf.writestr(f"part{i}/js/lib{j}.js", f"function f{j}(){{return {j};}}\n" * 300)
            mb = last if i == videos - 1 else video_mb
            with zf.open(f"part{i}/video.mp4", "w", force_zip64=True) as out:
                for _ in range(mb):
                    out.write(os.urandom(chunk))


def _child_rss_run(argv: list[str]) -> dict[str, float]:
    """Run ``argv`` in a wrapper process; return its wall time and the child's peak RSS."""
    wrapper = (
        "import json,resource,subprocess,sys,time;"
        "t=time.perf_counter();r=subprocess.run(sys.argv[1:]);w=time.perf_counter()-t;"
        "print(json.dumps({'rc':r.returncode,'wall':w,"
        "'rss_kb':resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", wrapper, *argv], capture_output=True, text=True, check=False
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"benchmark step failed: {argv}\n{proc.stderr}")
    result = json.loads(lines[-1])
    if result["rc"] != 0:
        raise SystemExit(f"benchmark step exited {result['rc']}: {argv}\n{proc.stderr}")
    return result


def child_import(package: str, dest: str) -> None:
    """Child mode: run our importer once."""
    sys.path.insert(0, str(REPO))
    from scorm.packaging import extract_package

    result = extract_package(package, dest)
    print(f"imported {result.file_count} files, {result.total_size} bytes", file=sys.stderr)


def child_pyzip(package: str, dest: str) -> None:
    """Child mode: baseline with Python's zipfile when unzip is absent."""
    with zipfile.ZipFile(package) as zf:
        zf.extractall(dest)  # trusted, generated benchmark input


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="package size (default 1024)")
    parser.add_argument("--video-mb", type=int, default=128, help="size of each video file")
    parser.add_argument(
        "--method", choices=["deflate", "store"], default="deflate", help="zip method"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where to build (temp)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per extractor (median)")
    parser.add_argument("--child-import", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child-pyzip", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_import:
        child_import(*args.child_import)
        return
    if args.child_pyzip:
        child_pyzip(*args.child_pyzip)
        return

    work = Path(tempfile.mkdtemp(prefix="cbsi-bench-import-", dir=args.workdir))
    try:
        package = work / "course.zip"
        method = zipfile.ZIP_DEFLATED if args.method == "deflate" else zipfile.ZIP_STORED
        started = time.perf_counter()
        generate(package, args.size_mb, args.video_mb, method)
        gen_s = time.perf_counter() - started
        pkg_mb = package.stat().st_size / 1e6
        with zipfile.ZipFile(package) as zf:
            unpacked_mb = sum(i.file_size for i in zf.infolist()) / 1e6
            entries = len(zf.infolist())
        print(
            f"package: {pkg_mb:,.0f} MB zip ({args.method}), {unpacked_mb:,.0f} MB unpacked, "
            f"{entries} entries; generated in {gen_s:.1f} s"
        )
        # Warm the page cache equally for both sides.
        with package.open("rb") as fh:
            while fh.read(8 * 1024 * 1024):
                pass

        unzip = shutil.which("unzip")
        if unzip:
            base_name = "unzip -q"
        else:
            base_name = "python zipfile.extractall (unzip not installed)"

        def run_base(dest: Path) -> dict[str, float]:
            if unzip:
                return _child_rss_run([unzip, "-q", str(package), "-d", str(dest)])
            return _child_rss_run(
                [sys.executable, __file__, "--child-pyzip", str(package), str(dest)]
            )

        def run_ours(dest: Path) -> dict[str, float]:
            return _child_rss_run(
                [sys.executable, __file__, "--child-import", str(package), str(dest)]
            )

        results: dict[str, list[dict[str, float]]] = {"base": [], "ours": []}
        for rep in range(args.repeat):
            order = [("base", run_base), ("ours", run_ours)]
            if rep % 2:
                order.reverse()  # alternate, so neither side always pays for the other's writeback
            for key, run in order:
                dest = work / f"{key}-{rep}"
                dest.mkdir()
                os.sync()  # start each run with no dirty pages from the previous one
                results[key].append(run(dest))
                shutil.rmtree(dest)
                os.sync()

        def median(runs: list[dict[str, float]]) -> dict[str, float]:
            walls = sorted(r["wall"] for r in runs)
            return {"wall": walls[len(walls) // 2], "rss_kb": max(r["rss_kb"] for r in runs)}

        base, ours = median(results["base"]), median(results["ours"])
        rows = [(base_name, base), ("cbsi extract_package", ours)]
        print()
        print(f"median of {args.repeat} run(s) each, alternating order, sync between runs")
        print(f"{'extractor':<48} {'wall s':>8} {'MB/s':>8} {'peak RSS MB':>12}")
        for name, r in rows:
            print(
                f"{name:<48} {r['wall']:>8.2f} {unpacked_mb / r['wall']:>8.0f} "
                f"{r['rss_kb'] / 1024:>12.1f}"
            )
        ratio = ours["wall"] / base["wall"]
        rss_mb = ours["rss_kb"] / 1024
        print()
        print(f"time ratio ours/baseline: {ratio:.2f}x (below 1 = faster than the baseline)")
        verdict = "OK" if rss_mb <= RSS_TARGET_MB else "OVER TARGET"
        print(f"our peak RSS: {rss_mb:.1f} MB (target <= {RSS_TARGET_MB} MB): {verdict}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
