"""Static pickle analysis: which globals a pickle imports and calls, without unpickling.

opcodes     the opcode set, derived from the stdlib's pickletools
reader      byte sources: counting file, windows, the bounded stream reader
values      the symbolic values (imported globals, call results, dicts, sets, ...)
machine     the symbolic machine: one handler per opcode family, a dispatch table
results     PickleScan and its parts, Limits, the per-scan context
policy      what a global means: classify(module, name)
sniff       which container a file is, from its first bytes
compression, containers   compressed data, zips, npy/npz, the legacy torch format
scan        scan_file / scan_bytes
"""

from hfcheck.formats.pickle.results import Limits, PickleCall, PickleGlobal, PickleProblem, PickleScan
from hfcheck.formats.pickle.scan import scan_bytes, scan_file
from hfcheck.formats.pickle.sniff import sniff_container

__all__ = [
    "PickleGlobal", "PickleProblem", "PickleCall", "PickleScan", "Limits",
    "sniff_container", "scan_file", "scan_bytes",
]  # fmt: skip
