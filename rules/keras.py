"""Keras models (`.keras` archives, legacy `.h5`): what their config makes the loader run."""

from hfcheck.facts.model_code import keras_config, keras_files
from hfcheck.findings import Finding
from hfcheck.registry import rule


@rule("KRS001", concern="security", severity="error")
def keras_safe_mode_only(repo):
    """A Keras model holds code that only loads with `safe_mode=False`: a Lambda layer
    whose function is serialized Python bytecode, a TorchModuleWrapper's pickled torch
    module, a TFSMLayer that loads an external SavedModel (a warning: a lookup layer
    that reads its vocabulary from a path outside the file).

    Why: `keras.models.load_model(path, safe_mode=False)` (and every Keras 2 / tf.keras
    load of an `.h5` Lambda) unmarshals the bytecode or unpickles the module while building
    the model: the file runs arbitrary Python on the loading machine. Keras 3's default
    `safe_mode=True` refuses these, which is why such models ship with instructions to
    turn safe mode off.
    Fix: do not load the model with safe_mode=False. Rebuild the Lambda as a registered
    custom layer (`@keras.saving.register_keras_serializable`) whose code you review.
    """
    for rel in keras_files(repo):
        result = keras_config(repo, rel)
        for issue in result.issues if result is not None else ():
            if issue.kind in ("bytecode", "unsafe"):
                yield Finding.at(rel, f"{result.source}: {issue.message}")
            elif issue.kind == "file-read":
                yield Finding.at(rel, f"{result.source}: {issue.message}", severity="warning")


@rule("KRS002", concern="security", severity="error")
def keras_code_reference(repo):
    """A Keras model config names a function or class from a module outside Keras (a
    warning for ordinary custom objects, an error for process, file, network or
    evaluation modules and for Lambda functions given as code text).

    Why: Keras resolves `module` + `class_name` references while loading; versions
    before the fix of CVE-2025-1550 import any module a `.keras` config names, and a
    Lambda's function reference runs whatever it resolves to. A custom object also means
    the model only loads with code that is not in the file.
    Fix: keep only Keras built-ins in the config, or ship the custom objects as reviewed
    code registered with `keras.saving.register_keras_serializable`.
    """
    for rel in keras_files(repo):
        result = keras_config(repo, rel)
        for issue in result.issues if result is not None else ():
            if issue.kind == "dangerous-module":
                yield Finding.at(rel, f"{result.source}: {issue.message}")
            elif issue.kind == "foreign-module":
                yield Finding.at(rel, f"{result.source}: {issue.message}", severity="warning")


@rule("KRS003", concern="security", severity="error")
def keras_unchecked(repo):
    """A Keras model file could not be checked: a damaged archive or HDF5 file, a config
    that is not JSON or is over a bound, an `.h5` layout the attribute reader does not
    follow (attributes in dense storage).

    Why: a model whose config was not read may hold a Lambda payload; a scanner must
    not pass what it did not see.
    Fix: replace a damaged file with a fresh save from a trusted source; re-save an `.h5`
    model in the `.keras` format (`model.save("model.keras")`).
    """
    for rel in keras_files(repo):
        result = keras_config(repo, rel)
        if result is not None and result.error:
            yield Finding.at(rel, f"Keras model not checked: {result.error}")
