"""Corpus scaling: the data half (ingestion, tokenization, features) at 50k, 200k, 500k reviews.

For each size, the synthetic corpus ``data/01_raw/corpus_<N>`` (made by
``scripts/make_corpus.py`` if it is missing) goes through

    kedro run --pipelines ingestion,tokenization,features --params imdb_source=<corpus>

in a scratch copy of the project (the checkout's outputs are untouched), as its own process.
Measured: wall time, and the peak RSS and PSS summed over the whole process tree (the Kedro
process and its forked tokenizer workers), sampled every 50 ms, overall and per node. Targets
(issue 9): at 500k reviews, peak memory <= 4 GB and wall time <= 11x the 50k time.

    .venv/bin/python benchmarks/corpus_scaling.py                  # 50k, 200k, 500k
    .venv/bin/python benchmarks/corpus_scaling.py --write-readme   # and the table in README.md

``--project`` runs another checkout's code and configuration (e.g. an older commit, for a
before/after comparison); ``--sizes`` picks the sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "scripts"))

from data_prep import TreeRssSampler  # noqa: E402
from make_corpus import default_out, make_corpus  # noqa: E402

SIZES = (50_000, 200_000, 500_000)
PIPELINES = "ingestion,tokenization,features"
TARGET_PEAK_BYTES = 4 * 1000**3  # 4 GB
TARGET_RATIO = 11.0  # wall time at 500k over wall time at 50k
COPIED = ("src", "conf", "pyproject.toml", ".telemetry")
LAYERS = ("02_intermediate", "03_primary", "04_feature", "05_model_input", "08_reporting")
COMPLETED = re.compile(r"Completed node: (\w+)")
README = ROOT / "benchmarks" / "README.md"
MARKERS = ("<!-- corpus-scaling:start -->", "<!-- corpus-scaling:end -->")
GIB = 1024**3


def scratch_project(project: Path, destination: Path, batch_rows: int | None = None) -> Path:
    """``project``'s code and configuration in ``destination``, outputs empty, own MLflow store.

    ``batch_rows`` (if given) overrides the rows per batch of the source and of the review and
    token tables, in ``conf/local``.
    """
    for relative in COPIED:
        source = project / relative
        if source.is_dir():
            shutil.copytree(
                source,
                destination / relative,
                ignore=shutil.ignore_patterns("local", "__pycache__", "*.egg-info"),
            )
        elif source.exists():
            shutil.copy2(source, destination / relative)
    local = destination / "conf" / "local"
    local.mkdir(parents=True, exist_ok=True)
    (local / "mlflow.yml").write_text(
        f"server:\n  mlflow_tracking_uri: sqlite:///{destination / 'mlflow.db'}\n"
    )
    if batch_rows is not None:
        (local / "catalog_batches.yml").write_text(
            "".join(
                f'"{name}":\n  batch_rows: {batch_rows}\n'
                for name in ("imdb_raw", "{split}_reviews", "{split}_tokens")
            )
        )
    for layer in LAYERS:
        (destination / "data" / layer).mkdir(parents=True, exist_ok=True)
    return destination


class NodeTracker:
    """Reads the run's log as it comes; splits wall time and peak memory by node.

    A node's share runs from the previous node's completion (for the first node: from the first
    dataset load, after Kedro's start-up) to its own: loading its inputs, running it, saving
    its outputs (where lazy outputs do their work).
    """

    def __init__(self, stream, sampler: TreeRssSampler, log_path: Path) -> None:
        self.nodes: dict[str, dict[str, float]] = {}
        self.startup_s = 0.0
        self._stream, self._sampler, self._log_path = stream, sampler, log_path
        self._started = self._mark = time.perf_counter()
        self._running = False
        self._peaks = [0, 0]
        self._cpu_mark = 0.0
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._watch, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read(self) -> None:
        with open(self._log_path, "w") as log:
            for line in self._stream:
                log.write(line)
                now = time.perf_counter()
                if not self._running and "Loading data from" in line:
                    self._running, self._mark = True, now
                    self.startup_s = now - self._started
                    self._peaks, self._cpu_mark = [0, 0], self._sampler.cpu_seconds
                match = COMPLETED.search(line)
                if match:
                    cpu = self._sampler.cpu_seconds
                    self.nodes[match.group(1)] = {
                        "seconds": now - self._mark,
                        "cpu_s": cpu - self._cpu_mark,
                        "peak_rss_bytes": self._peaks[0],
                        "peak_pss_bytes": self._peaks[1],
                    }
                    self._mark, self._peaks, self._cpu_mark = now, [0, 0], cpu

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            rss, pss = self._sampler.last_bytes, self._sampler.last_pss_bytes
            self._peaks = [max(self._peaks[0], rss), max(self._peaks[1], pss)]

    def join(self) -> None:
        self._threads[0].join()
        self._stop.set()
        self._threads[1].join()


def run_data_half(
    project: Path, corpus: Path, workdir: Path, batch_rows: int | None = None
) -> dict[str, Any]:
    """One ``kedro run`` of the data half on ``corpus`` in a scratch copy of ``project``
    (in ``workdir/project``; the run's log is ``workdir/kedro_run.log``)."""
    scratch = scratch_project(project, workdir / "project", batch_rows)
    kedro = Path(sys.executable).with_name("kedro")
    command = [str(kedro), "run", "--pipelines", PIPELINES, "--params", f"imdb_source={corpus}"]
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "OMP_WAIT_POLICY": "PASSIVE",
        "COLUMNS": "250",  # one log line per node start
        "PYTHONUNBUFFERED": "1",
    }
    load_before = os.getloadavg()
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=scratch,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    sampler = TreeRssSampler(root_pid=process.pid)
    with sampler:
        tracker = NodeTracker(process.stdout, sampler, workdir / "kedro_run.log")
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        returncode = process.returncode = os.waitstatus_to_exitcode(status)
        tracker.join()
    if returncode != 0:
        tail = (workdir / "kedro_run.log").read_text()[-3000:]
        raise RuntimeError(f"kedro run failed ({returncode}) on {corpus}:\n{tail}")
    sizes = {
        path.relative_to(scratch / "data").as_posix(): path.stat().st_size
        for path in sorted((scratch / "data").rglob("*"))
        if path.is_file() and path.name != ".gitkeep"
    }
    return {
        "wall_s": wall,
        "peak_tree_rss_bytes": sampler.peak_bytes,
        "peak_tree_pss_bytes": sampler.peak_pss_bytes,
        "cpu_s": sampler.cpu_seconds,
        # getrusage of the run: Kedro's process and the descendants it waited for
        "cpu_waited_s": usage.ru_utime + usage.ru_stime,
        "max_rss_kedro_process_bytes": usage.ru_maxrss * 1024,
        "startup_s": tracker.startup_s,
        "nodes": tracker.nodes,
        "output_bytes": sizes,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }


def corpus_for(size: int, corpus_root: Path | None, seed: int) -> Path:
    """The corpus of ``size`` reviews, generated first if it is not there."""
    folder = (corpus_root / default_out(size).name) if corpus_root else ROOT / default_out(size)
    if not (folder / "corpus.json").is_file():
        print(f"generating {folder} ({size:,} reviews) ...", flush=True)
        make_corpus(folder, size, seed=seed)
    return folder.resolve()


def scaling_table(result: dict[str, Any]) -> str:
    """The markdown table of one benchmark result."""
    runs = result["runs"]
    base = runs[0]["wall_s"]
    lines = [
        "| reviews (train + test) | wall s | × the smallest | peak RSS, tree | peak PSS, tree "
        "| CPU s (× the smallest) | slowest node | load average (1 min) before / after |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        slowest = max(run["nodes"].items(), key=lambda item: item[1]["seconds"])
        lines.append(
            f"| {run['reviews']:,} | {run['wall_s']:.1f} | {run['wall_s'] / base:.2f} "
            f"| {run['peak_tree_rss_bytes'] / GIB:.2f} GiB "
            f"| {run['peak_tree_pss_bytes'] / GIB:.2f} GiB "
            f"| {run['cpu_s']:.0f} ({run['cpu_s'] / runs[0]['cpu_s']:.2f}) "
            f"| {slowest[0]} {slowest[1]['seconds']:.1f} s "
            f"| {run['load_average_before'][0]:.1f} / {run['load_average_after'][0]:.1f} |"
        )
    return "\n".join(lines)


def write_readme(result: dict[str, Any], readme: Path = README) -> None:
    """Replace the table between the corpus-scaling markers in ``readme``."""
    text = readme.read_text()
    start, end = (text.index(marker) for marker in MARKERS)
    block = (
        f"{MARKERS[0]}\n"
        f"Measured {result['date']} on {result['machine']} with `{result['command']}` "
        f"(commit {result['commit']}):\n\n{scaling_table(result)}\n"
    )
    readme.write_text(text[:start] + block + text[end:])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--project", type=Path, default=ROOT, help="whose code and conf to run")
    parser.add_argument("--corpus-root", type=Path, help="default: <checkout>/data/01_raw")
    parser.add_argument("--seed", type=int, default=0, help="of corpora generated here")
    parser.add_argument("--out", type=Path, default=ROOT / "data/08_reporting/corpus_scaling.json")
    parser.add_argument("--write-readme", action="store_true", help="update benchmarks/README.md")
    parser.add_argument("--keep", action="store_true", help="keep the scratch projects")
    parser.add_argument("--batch-rows", type=int, help="reviews per batch (default: the catalog's)")
    args = parser.parse_args(argv)

    project = args.project.resolve()
    commit = (
        subprocess.run(
            ["git", "-C", str(project), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        or "?"
    )
    runs = []
    for size in sorted(args.sizes):
        corpus = corpus_for(size, args.corpus_root, args.seed)
        workdir = Path(tempfile.mkdtemp(prefix=f"corpus_scaling_{size}_"))
        try:
            print(f"{size:,} reviews: kedro run on {corpus} ...", flush=True)
            run = {
                "reviews": size,
                "corpus": str(corpus),
                **run_data_half(project, corpus, workdir, args.batch_rows),
            }
        finally:
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
        runs.append(run)
        rss, pss = run["peak_tree_rss_bytes"] / GIB, run["peak_tree_pss_bytes"] / GIB
        load = run["load_average_before"][0], run["load_average_after"][0]
        print(
            f"  wall {run['wall_s']:.1f} s, CPU {run['cpu_s']:.0f} s, peak tree RSS {rss:.2f} GiB, "
            f"PSS {pss:.2f} GiB, load {load[0]:.1f} -> {load[1]:.1f}",
            flush=True,
        )
        for name, node in run["nodes"].items():
            rss, pss = node["peak_rss_bytes"] / GIB, node["peak_pss_bytes"] / GIB
            print(
                f"    {name:32s} {node['seconds']:7.1f} s  CPU {node['cpu_s']:6.1f} s  "
                f"RSS {rss:.2f} GiB  PSS {pss:.2f} GiB",
                flush=True,
            )
    largest, smallest = runs[-1], runs[0]
    result = {
        "date": date.today().isoformat(),
        "machine": f"{platform.node()}: {os.cpu_count()} CPUs, {platform.machine()}",
        "command": "python benchmarks/corpus_scaling.py " + " ".join(argv or sys.argv[1:]),
        "commit": commit,
        "project": str(project),
        "runs": runs,
        "ratio_largest_to_smallest": largest["wall_s"] / smallest["wall_s"],
        "size_ratio": largest["reviews"] / smallest["reviews"],
        "meets_memory_target": max(r["peak_tree_rss_bytes"] for r in runs) <= TARGET_PEAK_BYTES,
        "meets_time_target": largest["wall_s"] <= TARGET_RATIO * smallest["wall_s"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(scaling_table(result))
    print(
        f"{largest['reviews']:,} / {smallest['reviews']:,} reviews: wall x"
        f"{result['ratio_largest_to_smallest']:.2f} (target <= {TARGET_RATIO:g}x for 10x); "
        f"memory target (tree RSS <= 4 GB) {'met' if result['meets_memory_target'] else 'MISSED'}"
        f"; figures in {args.out}"
    )
    if args.write_readme:
        write_readme(result)
    return result


if __name__ == "__main__":
    main()
