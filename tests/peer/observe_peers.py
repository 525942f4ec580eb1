"""Record what the real loaders do with every peer-suite file in our scope (pickle, zip,
archive, numpy, safetensors and manifest files; Keras, TensorFlow and jinja2 files belong to
the formats tests), as ground truth for tests/peer/test_peer_suites.py.

    python tests/peer/observe_peers.py [RELATIVE ...]   # rewrites tests/peer/peer_observations.json

Each file is loaded by pickle, torch (weights_only=False), joblib and numpy(allow_pickle=True)
(and, where pickle.load completed, by pickle.load repeated until the end of the file: the
streams after the first one) in the loader oracle's child processes (stopped before any side effect); members of zip and
tar archives, which a user unpacks before loading, are loaded by pickle too. The peer files are
never loaded in this process.
"""

from __future__ import annotations

import json
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from differential import classify_global  # noqa: E402
from loader_oracle import OracleWorker  # noqa: E402

_ROOT = HERE.parents[1]
# `shared/` beside the repository root (CI, the main checkout), or beside the folder of the
# worktrees that hold this checkout.
PEERS = next(
    (root / "shared" / "peer-suites" for root in (_ROOT.parent, _ROOT.parent.parent) if (root / "shared" / "peer-suites").is_dir()),
    _ROOT.parent / "shared" / "peer-suites",
)
OBSERVATIONS_FILE = HERE / "peer_observations.json"
LOADERS = ("pickle", "torch", "joblib", "numpy")
NOT_OURS = ("keras", "tensorflow", "jinja2", ".h5", ".pb", ".keras", "saved_model")


# Fail-closed verdicts that no loader run can give (the suites' SOURCE.md says why).
FAIL_CLOSED = {
    "picklescan/tests/data/malicious1.7z": "a pickle inside a .7z archive a user unpacks (#15 family 13)",
    "picklescan/tests/data/benign_password_protected.zip": "an encrypted zip cannot be verified",
    "modelscan/tests/data/password_protected.zip": "an encrypted zip cannot be verified",
}

# Where hfcheck rightly differs from the peer's own expectation (peer says malicious, no
# loader does anything off the allowlist): the reason, shown in the test id's reason.
PEER_SAYS_MALICIOUS_BUT_INERT = {}


def loader_reasons(record: dict) -> list[str]:
    reasons = []
    for loader, seen in record.items():
        reasons += [f"{loader}: side effect {s}" for s in seen["side_effects"]]
        for module, name in seen["globals"]:
            verdict = classify_global(module, name)
            if verdict not in ("allowed", "data"):
                reasons.append(f"{loader}: {verdict} global {module}.{name}")
    return reasons


def expected_error(relative: str, record: dict) -> tuple[bool, str]:
    """Whether hfcheck must report an error on a peer file, and why, from what the loaders did."""
    if relative in FAIL_CLOSED:
        return True, FAIL_CLOSED[relative]
    unreadable = [key for key in record if key.startswith("unpacked:<unreadable")]
    if unreadable:  # encrypted, flag bits, CRC or names that disagree: readers differ, fail closed
        return True, f"an archive whose members the stdlib reader refuses ({unreadable[0][len('unpacked:') :]}) cannot be verified"
    reasons = loader_reasons(record)
    if reasons:
        return True, "; ".join(sorted(set(reasons))[:3])
    return False, "every loader resolved only allowlisted globals and reached no side effect"


PICKLESCAN_BENIGN = (
    "benign0_",
    "int_array",
    "object_array",
    "pytorch_model.bin",
    "new_pytorch_model.bin",
    "bad_pytorch.pt",
    "not_a_pickle.bin",
)


def peer_verdict(relative: str) -> tuple[str, str]:
    """(verdict, technique) that the peer's own tests expect, from its SOURCE.md."""
    suite, _, inside = relative.partition("/")
    if suite == "picklescan":
        name = inside.rsplit("/", 1)[-1]
        benign = name.startswith(PICKLESCAN_BENIGN) or name in PICKLESCAN_BENIGN
        return ("benign" if benign else "malicious"), "picklescan test file"
    for line in (PEERS / suite / "SOURCE.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0] and inside.startswith(cells[0].rstrip("/")):
            return cells[1], cells[2]
    return "unlisted", ""


def in_scope(path: Path) -> bool:
    text = str(path).lower()
    return path.is_file() and path.name != "SOURCE.md" and not any(part in text for part in NOT_OURS)


def peer_files() -> list[Path]:
    return sorted(p for p in PEERS.resolve().rglob("*") if in_scope(p))


def _members(path: Path, scratch: Path) -> list[tuple[str, Path]]:
    """Members of a zip or tar archive written out for the pickle loader (bounded)."""
    found = []
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist()[:50]:
                    if info.file_size < 50_000_000 and not info.is_dir():
                        target = scratch / f"m{len(found)}"
                        target.write_bytes(archive.read(info))
                        found.append((info.filename, target))
        elif tarfile.is_tarfile(path):
            with tarfile.open(path) as archive:
                for info in archive.getmembers()[:50]:
                    if info.isfile() and info.size < 50_000_000:
                        target = scratch / f"m{len(found)}"
                        target.write_bytes(archive.extractfile(info).read())
                        found.append((info.name, target))
    except Exception as exc:  # encrypted or broken: nothing a user could unpack either
        found.append((f"<unreadable: {type(exc).__name__}>", None))
    return found


def _summary(seen) -> dict:
    return {
        "globals": sorted({tuple(g) for g in seen.globals}),
        "side_effects": seen.side_effects,
        "completed": seen.completed,
        "error": (seen.error or "")[:160],
    }


def main(only: list[str]) -> None:
    """Observe every file in scope, or re-observe only the given relative paths."""
    workers = {loader: OracleWorker(loader) for loader in LOADERS + ("pickle_stream",)}
    records = json.loads(OBSERVATIONS_FILE.read_text()) if only else {}
    try:
        for path in peer_files():
            if only and str(path.relative_to(PEERS.resolve())) not in only:
                continue
            relative = str(path.relative_to(PEERS.resolve()))
            record = {loader: _summary(workers[loader].observe(path)) for loader in LOADERS}
            if record["pickle"]["completed"]:  # a later stream that a reader of several pickles runs
                record["pickle_stream"] = _summary(workers["pickle_stream"].observe(path))
            with tempfile.TemporaryDirectory() as scratch:
                for member, extracted in _members(path, Path(scratch)):
                    if extracted is None:
                        record[f"unpacked:{member}"] = {"globals": [], "side_effects": [], "completed": False, "error": member}
                    else:
                        record[f"unpacked:{member}"] = _summary(workers["pickle"].observe(extracted))
            records[relative] = record
            print(relative, {k: (len(v["globals"]), v["side_effects"]) for k, v in record.items()}, flush=True)
    finally:
        for worker in workers.values():
            worker.close()
    OBSERVATIONS_FILE.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
