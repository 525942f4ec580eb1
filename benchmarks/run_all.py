"""Every benchmark input, hfcheck's static pass and the four anchor scanners side by side.

    python benchmarks/run_all.py WORKDIR [--runs 5] [--anchors-venv /path/to/venv] [--timeout 120]

Builds (once, in WORKDIR) and reuses:
- llama70b-st: Llama-3-70B-shaped repo, 30 sparse safetensors shards (~141 GB apparent);
- llama70b-st-2x: the same with the intermediate size doubled (~2x the weight bytes), timed
  in the same rounds as llama70b-st;
- llama70b-pt: the same model as 30 sparse torch.save zip shards + index (sparse_torch_zip.py);
- ckpt-2gb: a real ~2 GB torch.save checkpoint (16 x 128 MiB float32), one file;
- hf-cache-100 / hf-cache-200: Hugging Face caches of 100 and 200 tiny-llama snapshots;
- pickle-corpus: the malicious/benign pickle corpus (pickle_corpus.py);
- evil-torch-zip: a tiny torch.save zip whose pickle calls os.system; an anchor that does
  not flag it does not read the format, and its 2 GB time is left out of the goals.

Each command is a whole process (interpreter start and imports included, as a user runs
it), `--runs` times; the table gives the median wall time, the peak RSS of the process
tree, the fastest and slowest run (how noisy the machine was) and hfcheck's median
divided by the tool's (below 1: hfcheck is faster). The tools take turns
(one run of each per round). Anchors are run through their CLIs (picklescan --path,
modelscan -p, modelaudit scan) or, for fickling, which has no folder mode, its own Hub-repo
dispatch over every file in one process (FICKLING_WORKER). An anchor that fails, cannot
parse an input or times out on it is shown with the reason. The goals of the
performance issue are checked at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _timing import installed_version  # noqa: E402
from cache_200 import build_cache  # noqa: E402
from sparse_70b import LLAMA_3_70B, write_sparse_repo  # noqa: E402

DOUBLED = "hfcheck, intermediate size doubled (254 GB)"

# fickling has no folder mode; this is the dispatch of its own Hub-repo scan (fickling.cli):
# zips (torch.save checkpoints) through scan_zip_archive, which reads only the .pkl
# members, raw pickles through scan_file. Names fickling calls safe (.safetensors, .json)
# are skipped before it sniffs them: its sniffing reads a sparse 141 GB repo for minutes.
FICKLING_WORKER = r"""
import os, sys, warnings
from pathlib import PurePosixPath
warnings.filterwarnings("ignore")
from fickling.cli import HF_KNOWN_SAFE_EXTENSIONS, HF_RAW_PICKLE_EXTENSIONS, HF_ZIP_PICKLE_EXTENSIONS
from fickling.loader import scan_file, scan_zip_archive
from fickling.polyglot import find_file_properties
root = sys.argv[1]
paths = [root] if os.path.isfile(root) else sorted(os.path.join(d, n) for d, _, names in os.walk(root) for n in names)
scanned = flagged = failed = 0
for path in paths:
    ext = PurePosixPath(path).suffix.lower()
    if ext in HF_KNOWN_SAFE_EXTENSIONS or os.path.islink(path) and not os.path.exists(path):
        continue
    try:
        props = find_file_properties(path)
        if props["is_torch_zip"] or props["is_standard_zip"] or ext in HF_ZIP_PICKLE_EXTENSIONS:
            results = list(scan_zip_archive(path, graceful=True).values())
        elif props["is_valid_pickle"] or ext in HF_RAW_PICKLE_EXTENSIONS:
            results = [scan_file(path, graceful=True)]
        else:
            continue
    except Exception:
        failed += 1
        continue
    if any(r.errors for r in results):
        failed += 1
    else:
        scanned += 1
        flagged += any(not r.is_safe for r in results)
print(f"fickling: {scanned} scanned, {flagged} flagged, {failed} not parsed", file=sys.stderr)
if failed and not scanned:
    print(f"fickling could not parse any of the {failed} pickle files", file=sys.stderr)
    sys.exit(64)
sys.exit(1 if flagged else 0)
"""
# A torch.save zip whose pickle calls os.system: an anchor that does not flag it does not
# read the format, and its time on the 2 GB checkpoint is not a scan.
EVIL_PICKLE = b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00trueq\x00\x85q\x01Rq\x02."


# -- inputs ------------------------------------------------------------------------------


def build_checkpoint(path: Path, python: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    code = "import sys, torch\ntorch.manual_seed(0)\ntorch.save({f'layer{i}.weight': torch.randn(32 * 2**20) for i in range(16)}, sys.argv[1])\n"
    subprocess.run([python, "-c", code, str(path)], check=True)


def inputs(workdir: Path, torch_python: str) -> dict[str, Path]:
    """Build what is missing; returns name -> path."""
    made = {}
    for name, config in (("llama70b-st", LLAMA_3_70B), ("llama70b-st-2x", {**LLAMA_3_70B, "intermediate_size": 2 * 28672})):
        if not (workdir / name / "model.safetensors.index.json").exists():
            write_sparse_repo(workdir / name, config, shards=30)
        made[name] = workdir / name
    if not (workdir / "llama70b-pt" / "pytorch_model.bin.index.json").exists():
        write_sparse_repo(workdir / "llama70b-pt", LLAMA_3_70B, shards=30, pickle=True)
    made["llama70b-pt"] = workdir / "llama70b-pt"
    checkpoint = workdir / "ckpt-2gb" / "pytorch_model.bin"
    if not checkpoint.exists():
        build_checkpoint(checkpoint, torch_python)
    made["ckpt-2gb"] = checkpoint
    evil = workdir / "evil-torch-zip" / "pytorch_model.bin"
    if not evil.exists():
        import zipfile

        evil.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(evil, "w") as archive:
            archive.writestr("pytorch_model/data.pkl", EVIL_PICKLE)
            archive.writestr("pytorch_model/version", "3\n")
    made["evil-torch-zip"] = evil
    for count in (100, 200):
        build_cache(workdir / f"hf-cache-{count}", count)
        made[f"hf-cache-{count}"] = workdir / f"hf-cache-{count}"
    corpus = workdir / "pickle-corpus"
    if not (corpus / "manifest.json").exists():
        subprocess.run([torch_python, str(HERE / "pickle_corpus.py"), str(corpus)], check=True, capture_output=True)
    made["pickle-corpus"] = corpus
    return made


# -- timing ------------------------------------------------------------------------------


def run_once(command: list[str], env: dict, timeout: float) -> tuple[float, float, int, str]:
    """(wall s, peak RSS MiB of the child, exit code, stderr tail); exit -9 when killed at the timeout."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **env})
    timer = threading.Timer(timeout, child.kill)
    timer.start()
    err = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    timer.cancel()
    child.stderr.close()
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    message = f"timed out after {timeout:.0f} s" if code == -9 else err.decode(errors="replace").strip()[-300:]
    return wall, usage.ru_maxrss / 1024, code, message


def measure(command: list[str], runs: int, env: dict, timeout: float, ok_codes=(0, 1)) -> dict:
    return measure_together({"it": (command, runs, env, ok_codes)}, timeout)["it"]


def measure_together(jobs: dict[str, tuple], timeout: float) -> dict[str, dict]:
    """label -> (command, runs, env, ok_codes), run in rounds (each job once per round,
    while it has runs left) so that load from other work on the machine falls on every
    tool alike; label -> {median, min, max, peak} or {error}."""
    walls: dict[str, list] = {label: [] for label in jobs}
    peaks: dict[str, list] = {label: [] for label in jobs}
    errors: dict[str, str] = {}
    for round_ in range(max(job[1] for job in jobs.values())):
        for label, (command, runs, env, ok_codes) in jobs.items():
            if label in errors or round_ >= runs:
                continue
            wall, rss, code, err = run_once(command, env, timeout)
            if code not in ok_codes or "Traceback" in err:
                errors[label] = err.splitlines()[-1] if err else f"exit code {code}"
                continue
            walls[label].append(wall)
            peaks[label].append(rss)
    return {
        label: {"error": errors[label]}
        if label in errors
        else {"median": statistics.median(walls[label]), "min": min(walls[label]), "max": max(walls[label]), "peak": max(peaks[label])}
        for label in jobs
    }


# -- the run -----------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--anchors-venv", type=Path, help="virtualenv with picklescan, modelscan, fickling, modelaudit (default: this one)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds before one run is given up")
    parser.add_argument("--inputs", nargs="*", help="only these inputs (default: all)")
    parser.add_argument("--modelaudit-runs", type=int, default=1, help="modelaudit takes seconds to minutes per input")
    parser.add_argument("--out", type=Path, help="also write the report here (benchmarks/results/run_all.md feeds the README)")
    args = parser.parse_args()
    hfcheck = shutil.which("hfcheck") or sys.exit("hfcheck is not installed in this environment")
    anchors = (args.anchors_venv / "bin") if args.anchors_venv else Path(sys.executable).parent
    anchor_python = str(anchors / "python")
    torch_python = sys.executable if _has_torch(sys.executable) else anchor_python
    args.workdir.mkdir(parents=True, exist_ok=True)
    print("building inputs ...", file=sys.stderr, flush=True)
    paths = inputs(args.workdir, torch_python)
    cpus = os.cpu_count() or 1

    # --no-cache: every run is a whole check (the result cache is measured by its own benchmark)
    def hf(target, *extra):
        return [hfcheck, str(target), "--format", "json", "--fail-on", "never", "--no-cache", *extra]

    anchor_tools = {
        "picklescan": lambda p: [str(anchors / "picklescan"), "--path", str(p)],
        "modelscan": lambda p: [str(anchors / "modelscan"), "-p", str(p)],
        "fickling": lambda p: [anchor_python, "-c", FICKLING_WORKER, str(p)],
        "modelaudit": lambda p: [str(anchors / "modelaudit"), "scan", "--format", "json", str(p)],
    }
    rows: dict[str, dict[str, dict]] = {}
    baseline = {
        "python -c pass": measure([sys.executable, "-c", "pass"], args.runs, {}, 60),
        "hfcheck --version": measure([hfcheck, "--version"], args.runs, {}, 60),
    }
    if args.inputs:
        paths = {name: path for name, path in paths.items() if name in args.inputs}
    for name, path in paths.items():
        env, jobs = {}, {}
        if name == "llama70b-st-2x":
            continue  # timed in the same rounds as llama70b-st, below
        if name == "evil-torch-zip":
            # one run each: does the anchor flag it (a non-zero exit that is not a timeout)?
            rows[name] = {
                tool: {"flagged": run_once(command(path), {}, args.timeout)[2] not in (0, -9)}
                for tool, command in anchor_tools.items()
                if tool == "fickling" or (anchors / tool).exists()
            }
            continue
        if name.startswith("hf-cache"):
            env = {"HF_HUB_CACHE": str(path)}
            cached = [hfcheck, "--hf-cache", "--format", "json", "--fail-on", "never", "--no-cache"]
            jobs["hfcheck"] = (cached, args.runs, env, (0, 1))
            jobs[f"hfcheck --jobs {cpus}"] = ([*cached, "--jobs", str(cpus)], args.runs, env, (0, 1))
        else:
            jobs["hfcheck"] = (hf(path), args.runs, env, (0, 1))
        if name == "llama70b-st" and "llama70b-st-2x" in paths:
            # the doubling check: in the same rounds, so load drift on a shared machine hits both alike
            jobs[DOUBLED] = (hf(paths["llama70b-st-2x"]), args.runs, env, (0, 1))
        missing = {}
        for tool, command in anchor_tools.items():
            if not (anchors / tool).exists() and tool != "fickling":
                missing[tool] = {"error": f"{tool} is not installed in {anchors}"}
                continue
            runs = args.modelaudit_runs if tool == "modelaudit" else args.runs
            # the anchors exit non-zero when they flag something; only a crash or a timeout is an error
            jobs[tool] = (command(path), runs, {}, tuple(range(0, 8)))
        print(f"{name}: {', '.join(jobs)} ...", file=sys.stderr, flush=True)
        rows[name] = {**measure_together(jobs, args.timeout), **missing}
    lines = report(rows, baseline, paths, args, cpus, anchors)
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


def _has_torch(python: str) -> bool:
    return subprocess.run([python, "-c", "import torch"], capture_output=True).returncode == 0


def _size(path: Path) -> tuple[float, float]:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    return sum(p.stat().st_size for p in files) / 1e9, sum(p.stat().st_blocks * 512 for p in files) / 1e6


def report(rows, baseline, paths, args, cpus, anchors) -> list[str]:
    """The Markdown report: the machine and versions, the table and the goals checked."""
    cpu = (
        next(
            (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    anchor_python = str(anchors / "python")
    versions = ", ".join(
        f"{name} {installed_version(anchor_python, name)}" for name in ("picklescan", "modelscan", "fickling", "modelaudit")
    )
    hfcheck_python = str(Path(shutil.which("hfcheck")).parent / "python")
    commit = (
        subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() or "unknown"
    )
    lines = [
        f"`python benchmarks/run_all.py WORKDIR --runs {args.runs} --timeout {args.timeout:.0f}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}:",
        f"{cpus} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()}; load average at the end {load};",
        f"hfcheck {installed_version(hfcheck_python, 'hfcheck')} at commit {commit} (run with --no-cache), anchors: {versions}.",
        f"{args.runs} runs each (modelaudit {args.modelaudit_runs}), the tools taking turns; whole processes, median wall time. hfcheck / tool below 1: hfcheck is faster.",
        "",
        " · ".join(f"`{label}` {cell.get('median', 0):.3f} s" for label, cell in baseline.items()),
        "",
        "| input | apparent GB | on disk MB | tool | median s | min-max s | peak RSS MiB | hfcheck / tool |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    evil = rows.pop("evil-torch-zip", {})
    for name, tools in rows.items():
        apparent, on_disk = _size(paths[name])
        ours = tools["hfcheck"].get("median")
        for tool, cell in tools.items():
            if "error" in cell:
                lines.append(f"| {name} | {apparent:.1f} | {on_disk:.1f} | {tool} | - | - | - | n/a: {cell['error']} |")
                continue
            # below 1: hfcheck is faster than the tool (the anchors are the denominator)
            ratio = f"{ours / cell['median']:.2f}" if ours else "-"
            spread = f"{cell['min']:.3f}-{cell['max']:.3f}"
            lines.append(
                f"| {name} | {apparent:.1f} | {on_disk:.1f} | {tool} | {cell['median']:.3f} | {spread} | {cell['peak']:.0f} | {ratio} |"
            )
    if evil:
        lines += [
            "",
            "Flags a malicious `torch.save` zip (an anchor that does not, does not scan the format): "
            + ", ".join(f"{tool} {'yes' if cell['flagged'] else 'NO'}" for tool, cell in evil.items())
            + ".",
        ]
    return lines + goals(rows, baseline, evil)


def goals(rows, baseline, evil) -> list[str]:
    def median(name, tool="hfcheck"):
        return rows.get(name, {}).get(tool, {}).get("median")

    checks = []
    if not {"llama70b-st", "ckpt-2gb", "hf-cache-100", "hf-cache-200"} <= rows.keys():
        return ["", "Goals: need every input (run without --inputs)."]
    st = rows["llama70b-st"]["hfcheck"]
    peak = st.get("peak", 1e9)
    checks.append(
        (
            "70B sparse safetensors: < 0.3 s and < 150 MB",
            st.get("median", 9) < 0.3 and peak < 150,
            f"{st.get('median', 0):.3f} s, {peak:.0f} MiB",
        )
    )
    a, b = median("llama70b-st"), median("llama70b-st", DOUBLED)
    checks.append(("2x the weight bytes changes time by < 10%", abs(b - a) / a < 0.10, f"{100 * (b - a) / a:+.1f}%"))
    ours = median("ckpt-2gb")
    # only anchors that read the format: the others' times are not scans
    anchors = {
        t: c["median"] for t, c in rows["ckpt-2gb"].items() if t != "hfcheck" and "median" in c and evil.get(t, {}).get("flagged", True)
    }
    if anchors:
        fastest, slowest = min(anchors, key=anchors.get), max(anchors, key=anchors.get)
        checks.append(
            (
                "2 GB .bin: no slower than the fastest anchor",
                ours <= anchors[fastest],
                f"hfcheck {ours:.3f} s, {fastest} {anchors[fastest]:.3f} s",
            )
        )
        checks.append(
            (
                "2 GB .bin: >= 10x faster than the slowest anchor",
                anchors[slowest] >= 10 * ours,
                f"{slowest} {anchors[slowest]:.2f} s = {anchors[slowest] / ours:.0f}x",
            )
        )
    version = baseline["hfcheck --version"].get("median", 9)
    checks.append(("cold start: hfcheck --version < 0.25 s", version < 0.25, f"{version:.3f} s"))
    c100, c200 = median("hf-cache-100"), median("hf-cache-200")
    checks.append(
        (
            "200 snapshots: linear (ms per snapshot at 200 within 25% of 100)",
            abs(c200 / 200 - c100 / 100) / (c100 / 100) < 0.25,
            f"{1000 * c100 / 100:.1f} vs {1000 * c200 / 200:.1f} ms/snapshot",
        )
    )
    jobs = [t for t in rows["hf-cache-200"] if t.startswith("hfcheck --jobs")]
    if jobs and "median" in rows["hf-cache-200"][jobs[0]]:
        parallel = rows["hf-cache-200"][jobs[0]]["median"]
        checks.append(
            (f"200 snapshots: {jobs[0].split()[-1]} jobs use the cores", parallel < c200, f"{c200:.2f} s serial, {parallel:.2f} s parallel")
        )
    return ["", "Goals:", ""] + [f"- {'PASS' if ok else '**FAIL**'} {text}: {detail}" for text, ok, detail in checks]


if __name__ == "__main__":
    sys.exit(main())
