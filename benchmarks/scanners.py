"""hfcheck's pickle scanning against picklescan, modelscan, fickling and modelaudit.

    pip install -e '.[bench]'   # or the anchors in another virtualenv: --anchors-python
    python benchmarks/scanners.py WORKDIR [--anchors-python PATH]

Builds the corpus (benchmarks/pickle_corpus.py: malicious samples for every technique,
benign real torch.save / numpy / joblib outputs, "review" whole-module pickles) and
prints, per tool: recall on the malicious samples, false positives on the benign ones,
and the wall time of the process that scans the whole corpus (start and imports included). Verdicts, checked by hand on samples:
- hfcheck: a security finding of severity error on the file (one run over the folder);
- picklescan: `scan_file_path(path).infected_files > 0` (its CLI exit code is unreliable);
- modelscan: `ModelScan().scan(path)` reports an issue of any severity;
- fickling: `is_likely_safe(path)` is False (an exception means it could not scan: not flagged);
- modelaudit: one `modelaudit scan --format json` over the folder; an issue of severity
  critical or error located in the file (warnings and info are not verdicts).
Afterwards no CANARY marker of the corpus may exist: the anchors only parse, like hfcheck.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _timing import installed_version  # benchmarks/ is the script's folder, first on sys.path

HERE = Path(__file__).resolve().parent

# Runs inside the anchors' interpreter: one tool over every file, verdicts as JSON.
ANCHOR_WORKER = r"""
import json, sys, time, warnings, logging
warnings.filterwarnings("ignore"); logging.disable(logging.CRITICAL)
tool, root, files = sys.argv[1], sys.argv[2], json.loads(sys.stdin.read())
def picklescan(path):
    from picklescan.scanner import scan_file_path
    return scan_file_path(path).infected_files > 0
def modelscan(path):
    from modelscan.modelscan import ModelScan
    return ModelScan().scan(path)["summary"]["total_issues"] > 0
def fickling(path):
    import fickling
    return not fickling.is_likely_safe(path)
check = {"picklescan": picklescan, "modelscan": modelscan, "fickling": fickling}[tool]
verdicts, start = {}, time.perf_counter()
for rel in files:
    try:
        verdicts[rel] = bool(check(root + "/" + rel))
    except Exception:
        verdicts[rel] = False
print(json.dumps({"seconds": time.perf_counter() - start, "verdicts": verdicts}))
"""


def hfcheck_verdicts(root: Path) -> tuple[float, dict[str, bool]]:
    start = time.perf_counter()
    out = subprocess.run(
        [shutil.which("hfcheck") or "hfcheck", str(root), "--select", "security", "--format", "json", "--fail-on", "never"],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    findings = json.loads(out.stdout)["targets"][0]["findings"]
    flagged = {f["path"] for f in findings if f["severity"] == "error"}
    return seconds, {rel: rel in flagged for rel in _files(root)}


def anchor_verdicts(python: str, tool: str, root: Path) -> tuple[float, dict[str, bool]]:
    start = time.perf_counter()
    out = subprocess.run([python, "-c", ANCHOR_WORKER, tool, str(root)], input=json.dumps(_files(root)), capture_output=True, text=True)
    # the whole process, interpreter start and imports included, as for hfcheck's CLI
    seconds = time.perf_counter() - start
    return seconds, json.loads(out.stdout.strip().splitlines()[-1])["verdicts"]


def modelaudit_verdicts(python: str, root: Path) -> tuple[float, dict[str, bool]]:
    executable = str(Path(python).parent / "modelaudit")
    start = time.perf_counter()
    out = subprocess.run([executable, "scan", "--format", "json", str(root)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    flagged = set()
    for issue in json.loads(out.stdout).get("issues", []):
        if issue.get("severity") in ("critical", "error") and issue.get("location"):
            location = str(issue["location"]).split(" ")[0].split(":")[0]
            try:
                flagged.add(str(Path(location).resolve().relative_to(root.resolve())))
            except ValueError:
                continue
    return seconds, {rel: rel in flagged for rel in _files(root)}


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != "manifest.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--anchors-python", default=sys.executable, help="interpreter that has the anchor scanners installed")
    parser.add_argument("--out", type=Path, help="also write a Markdown table here (benchmarks/results/scanners.md feeds the README)")
    args = parser.parse_args()
    corpus = args.workdir / "corpus"
    if not (corpus / "manifest.json").exists():
        subprocess.run([sys.executable, str(HERE / "pickle_corpus.py"), str(corpus)], check=True, capture_output=True)
    manifest = json.loads((corpus / "manifest.json").read_text())
    expected = {sample["path"]: sample["verdict"] for sample in manifest}
    runs = {"hfcheck": hfcheck_verdicts(corpus)}
    for tool in ("picklescan", "modelscan", "fickling"):
        runs[tool] = anchor_verdicts(args.anchors_python, tool, corpus)
    runs["modelaudit"] = modelaudit_verdicts(args.anchors_python, corpus)
    malicious = [p for p, v in expected.items() if v == "malicious"]
    benign = [p for p, v in expected.items() if v == "benign"]
    print(f"corpus: {len(malicious)} malicious, {len(benign)} benign, {sum(v == 'review' for v in expected.values())} review")
    print(f"{'tool':<11} {'recall':>8} {'false pos.':>10} {'seconds':>8}  missed")
    table = [
        f"`python benchmarks/scanners.py WORKDIR` on {time.strftime('%Y-%m-%d', time.gmtime())}: {len(malicious)} malicious samples (one per technique),",
        f"{len(benign)} benign real files; the allowlist was derived from this corpus's benign half, so hfcheck's row is in-sample.",
        "",
        "| tool | recall | false positives | seconds (whole corpus, one process) |",
        "| --- | --- | --- | --- |",
    ]
    for tool, (seconds, verdicts) in runs.items():
        caught = [p for p in malicious if verdicts.get(p)]
        false_positives = [p for p in benign if verdicts.get(p)]
        missed = sorted(set(malicious) - set(caught))
        print(
            f"{tool:<11} {len(caught) / len(malicious):>8.1%} {len(false_positives):>10} {seconds:>8.2f}  {len(missed)}: {', '.join(m.split('/')[-1] for m in missed[:6])}{' ...' if len(missed) > 6 else ''}"
        )
        name = f"{tool} {installed_version(args.anchors_python, tool)}" if tool != "hfcheck" else "**hfcheck**"
        table.append(f"| {name} | {len(caught) / len(malicious):.1%} | {len(false_positives)} | {seconds:.2f} |")
    canaries = list(corpus.glob("CANARY*"))
    print(f"canary markers after all runs: {len(canaries)}")
    table += ["", f"Canary markers created by any tool's run: {len(canaries)}."]
    if args.out:
        args.out.write_text("\n".join(table) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
