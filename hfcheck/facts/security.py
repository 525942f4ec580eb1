"""Which files hold pickles, found by content (never by name), and what their globals are."""

from __future__ import annotations

import struct
import sys
from typing import NamedTuple

from hfcheck.filekinds import NAMES_THAT_HOLD_PICKLES


class JudgedGlobal(NamedTuple):
    module: str
    name: str
    offset: int
    member: str | None
    verdict: str  # allowed | dangerous | data | library | model-class | unknown
    reason: str

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def where(self) -> str:
        return f"{f'member {self.member}, ' if self.member else ''}byte {self.offset}"


def pickle_files(repo) -> list[str]:
    """Files a loader would unpickle something from (pickle, torch zip or legacy, numpy
    object arrays, npz, zips, tar and 7z archives, compressed pickles), whatever their
    name. Decided by the whole file: the first bytes only rule a file out when they prove
    that no loader finds a pickle in it (formats.pickle.sniff); a safetensors header does
    not exempt a file that torch.load would open as a zip or pickle."""

    def compute():
        from hfcheck.formats.pickle.sniff import head_rules_out_pickle

        found = []
        for rel, entry in repo.files.items():
            if entry.size == 0 or repo.is_placeholder(rel):
                continue
            head = _sniff_head(repo, rel)
            if not head or _ruled_out(head_rules_out_pickle, head, entry.size):
                continue
            scan = repo.pickle_scan(rel)
            if scan is not None and holds_pickle(scan) and not _text_read_as_protocol_0(repo, rel, scan):
                found.append(rel)
        return sorted(found)

    return repo.memo(("facts", "pickle_files"), compute)


def _text_read_as_protocol_0(repo, rel: str, scan) -> bool:
    """A text file under a text name that the unpickler would merely fail on: labels.txt
    holding "cat\ndog\n" reads as protocol 0 (GLOBAL of module "at", name "dog", then the
    data ends). Such a file is text, not a disguised pickle, when its one raw stream has no
    PROTO header, fails before STOP (not at a bound of the scanner), calls nothing, and
    imports only modules in neither the standard library nor the policy's tables: the
    unpickler stops at the first import (there is no such module), and where one exists it
    imports it and stops, calling nothing. Anything under a name that holds pickles (.pkl,
    .bin, ...) stays judged as a pickle, as does any stream that reaches STOP, calls, or
    names a module every Python has (os, builtins), one the policy knows (torch, numpy), or
    a `__main__` module (importing one runs a program)."""
    if rel.lower().endswith(NAMES_THAT_HOLD_PICKLES) or scan.container != "pickle" or scan.streams != 1:
        return False
    if not scan.problems or scan.calls or repo.head(rel, 1) == b"\x80":
        return False
    from hfcheck.formats.pickle.results import SCAN_INCOMPLETE

    if any(SCAN_INCOMPLETE in problem.message for problem in scan.problems):
        return False  # the scan stopped at a bound of its own: what follows is unseen
    if not scan.globals or any(not item.resolved for item in scan.globals):
        return False
    for item in judged_globals(repo, rel):  # the policy's verdicts, judged once per file
        parts = item.module.split(".")
        # a `__main__` module runs its program when imported (pip.__main__, uvicorn.__main__)
        if parts[0] in sys.stdlib_module_names or "__main__" in parts or item.verdict != "unknown":
            return False
    return True


def _sniff_head(repo, rel: str) -> bytes | None:
    """The first bytes sniffing looks at: 4 KiB, but for a file with a valid safetensors
    header only its 8 length bytes, rebuilt from the parsed header, so that no byte past
    the header is read. The unpickler fails on a real header's length bytes at once; when
    it does not (or they are a zip's signature), the whole file is scanned."""
    header = repo.safetensors(rel) if rel.endswith(".safetensors") else None
    if header is not None and header.error is None:
        return struct.pack("<Q", header.header_length)
    return repo.head(rel, 4096)


def _ruled_out(test, head: bytes, size: int) -> bool:
    try:
        return test(head, size)
    except Exception:  # noqa: BLE001 - a sniffing failure never means "not a pickle": the full scan decides
        return False


def holds_pickle(scan) -> bool:
    """The scan found something a loader unpickles, or could not verify the file (a
    problem, also one of a scan that failed before it knew the container: fail closed)."""
    return bool(scan.problems) or (scan.container != "not-pickle" and bool(scan.streams or scan.globals))


def judged_globals(repo, rel: str) -> list[JudgedGlobal]:
    """Every resolved global the file's pickles import, judged by the one policy module;
    the same global at several offsets is judged once (first offset kept)."""

    def compute():
        from hfcheck.formats.pickle.policy import classify, classify_torchscript

        scan = repo.pickle_scan(rel)
        if scan is None:
            return []
        # torch.load hands a TorchScript archive to torch.jit.load, whose C++ unpickler never imports Python
        judge = classify_torchscript if scan.container == "torchscript" else classify
        judged, seen = [], set()
        for item in scan.globals:
            key = (item.module, item.name, item.member)
            if not item.resolved or key in seen:
                continue
            seen.add(key)
            verdict, reason = judge(item.module, item.name)
            if verdict == "unknown" and item.role == "nn-module class":
                verdict, reason = "model-class", "the model's own nn.Module class (a whole-module torch.save)"
            judged.append(JudgedGlobal(item.module, item.name, item.offset, item.member, verdict, reason))
        return judged

    return repo.memo(("facts", "judged_globals", rel), compute)


def scan_summary(repo, rel: str) -> str | None:
    """One line on what the scan found, for the rules that mention a pickle file."""
    scan = repo.pickle_scan(rel)
    if scan is None:
        return None
    verdicts = [g.verdict for g in judged_globals(repo, rel)]
    bad = sum(v in ("dangerous", "unknown") for v in verdicts)
    if bad or scan.problems or any(not g.resolved for g in scan.globals):
        return "the security scan flags it (see the SEC findings)"
    if any(v in ("library", "model-class") for v in verdicts):
        return "the security scan found no code-running globals, but loading trusts library or model classes (see the SEC002 warnings)"
    return f"the security scan found only allowlisted globals ({len(verdicts)} distinct, {scan.streams} pickle stream{'s' if scan.streams != 1 else ''})"
