"""Static pickle analysis: which globals a pickle imports and calls, without unpickling.

opcodes     the opcode set, derived from the stdlib's pickletools
reader      byte sources: counting file, windows, the bounded stream reader
values      the symbolic values (imported globals, call results, dicts, sets, ...)
machine     the symbolic machine: one handler per opcode family, a dispatch table
results     PickleScan and its parts, Limits, the per-scan context
policy      what a global means: classify(module, name)
sniff       which container a file is, decided by what its loaders would do with it
compression every stream of joblib's compressed formats
zip_reader  zip directories as torch's reader (miniz) and Python's zipfile see them
numpy_dtypes object dtypes and element sizes as numpy reads them
containers  raw pickles, zips (both readers' views), npy/npz, the legacy torch formats
archives    tar (legacy torch checkpoints, unpacked archives) and 7z
scan        scan_file / scan_bytes
"""

# Imported on first use (PEP 562): sniffing a repo of safetensors files needs none of it,
# and sniffing alone does not need the container readers (zipfile, compressors).
_EXPORTS = {
    "PickleGlobal": "results",
    "PickleProblem": "results",
    "PickleCall": "results",
    "PickleScan": "results",
    "Limits": "results",
    "sniff_container": "sniff",
    "scan_file": "scan",
    "scan_bytes": "scan",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
