"""ONNX models: external tensor data paths and custom operator domains."""

import posixpath

from hfcheck.facts.model_code import custom_op_domains, onnx_files, onnx_model
from hfcheck.findings import Finding
from hfcheck.registry import rule


def _resolved(rel: str, location: str) -> tuple[str, str | None]:
    """(problem, repo-relative path) of an external-data location: the runtime joins it
    to the model's folder (backslashes are separators on Windows)."""
    location = location.replace("\\", "/")
    if location.startswith("/") or (len(location) > 1 and location[1] == ":"):
        return "absolute", None
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(rel), location))
    if joined == ".." or joined.startswith("../"):
        return "outside", None
    if ".." in location.split("/"):
        return "dotdot", joined
    return "", joined


@rule("ONX001", concern="security", severity="error")
def onnx_external_data_traversal(repo):
    """An ONNX tensor's external data `location` is an absolute path or climbs out of
    the repository with `..` (a warning when `..` stays inside it).

    Why: onnx and ONNX Runtime open the location relative to the model file when the
    model loads; a path outside the repository reads any file the process can read
    (`/etc/passwd`, keys, other models) into a tensor, which the model can then emit.
    onnx >= 1.16 refuses such paths, older runtimes follow them.
    Fix: save the model with `onnx.save_model(..., save_as_external_data=True,
    location="model.onnx_data")` so the data sits beside it.
    """
    for rel in onnx_files(repo):
        model = onnx_model(repo, rel)
        for tensor in model.external if model is not None else ():
            problem, _ = _resolved(rel, tensor.location)
            if problem == "absolute":
                yield Finding.at(rel, f"tensor {tensor.tensor!r} loads its data from the absolute path {tensor.location!r}")
            elif problem == "outside":
                yield Finding.at(rel, f"tensor {tensor.tensor!r} loads its data from {tensor.location!r}, outside the repository")
            elif problem == "dotdot":
                yield Finding.at(rel, f"tensor {tensor.tensor!r} loads its data through '..' ({tensor.location!r})", severity="warning")


@rule("ONX002", concern="security", severity="warning")
def onnx_custom_op_domain(repo):
    """An ONNX model uses operators from a custom domain, which only run with a
    custom-op shared library registered in the runtime.

    Why: the library is native code from outside the model file; whoever ships the
    model also has to ship (and you have to trust) that library.
    Fix: export with standard ONNX operators, or review and pin the custom-op library.
    """
    for rel in onnx_files(repo):
        for domain, count in custom_op_domains(repo, rel):
            yield Finding.at(
                rel, f"{count} node(s) use the custom operator domain {domain!r}: the model needs a native custom-op library to run"
            )


@rule("ONX003", concern="weights", severity="error")
def onnx_external_data_missing(repo):
    """An ONNX tensor's external data file is not in the repository.

    Why: the model fails to load (or loads the tensor from whatever file of that name
    the runtime's working directory holds).
    Fix: upload the external data file next to the model, or re-save with the data inline.
    """
    for rel in onnx_files(repo):
        model = onnx_model(repo, rel)
        missing = {}
        for tensor in model.external if model is not None else ():
            problem, target = _resolved(rel, tensor.location)
            if target is not None and not repo.exists(target):
                missing.setdefault(tensor.location, []).append(tensor.tensor)
        for location, tensors in sorted(missing.items()):
            yield Finding.at(
                rel, f"external data file {location!r} ({len(tensors)} tensor(s), e.g. {tensors[0]!r}) is not in the repository"
            )


@rule("ONX004", concern="security", severity="error")
def onnx_unchecked(repo):
    """An ONNX file could not be read (truncated, not a ModelProto, over a bound).

    Why: a model that was not read was not checked for external-data paths or custom
    operators; a truncated file also fails to load.
    Fix: replace it with a fresh export from a trusted source.
    """
    for rel in onnx_files(repo):
        model = onnx_model(repo, rel)
        if model is not None and model.error:
            yield Finding.at(rel, f"ONNX model not checked: {model.error}")
