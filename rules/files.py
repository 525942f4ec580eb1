"""Rules about hfcheck's own view of the target: files it could not read, settings it
could not understand, rules that failed. They run last, after every other rule read what
it needed."""

from hfcheck.findings import Finding
from hfcheck.registry import rule
from hfcheck.filekinds import concern_of


@rule("HFC001", concern="config", severity="warning", phase="final")
def unreadable_file(repo):
    """A file in the target could not be read, so nothing that depends on it was checked.

    Why: a checker that silently skips what it cannot read gives a clean verdict on a
    repo it never saw. Symlinks that leave the target, FIFOs and device files are never
    opened (a hostile repo could otherwise leak files or hang the check); files over the
    size limit for their kind are not read; text that is not UTF-8 fails in transformers
    too (an error).
    Fix: make the file a readable regular file inside the repository, in UTF-8, or
    exclude it with `exclude = ["path"]` if it is not part of the model.
    """
    for error in repo.read_errors.values():
        yield Finding.at(error.path, error.message, severity=error.severity, concern=concern_of(error.path))


@rule("HFC002", concern="config", severity="error", phase="final")
def invalid_settings(repo):
    """hfcheck's own settings (`[tool.hfcheck]`, `.hfcheck.yaml`, `--config`) have an
    unknown key or a value of the wrong type.

    Why: a misspelt `ignore` or `fail_on` silently changes what the CI gate lets through.
    Fix: correct the key; `hfcheck rules` lists the codes, the README lists every setting.
    """
    for problem in repo.settings.problems if repo.settings else ():
        yield Finding.at(problem.path, problem.message, line=problem.line)


@rule("HFC003", concern="config", severity="error", phase="final")
def rule_crashed(repo):
    """A rule raised an exception on this repository, so its check did not run.

    Why: hfcheck reports the failure instead of hiding every other finding behind a
    traceback; the repo is not known to pass that rule.
    Fix: report the message to the rule's authors (for built-in rules, hfcheck's issue
    tracker) with the file that triggered it; `--ignore CODE` skips the rule meanwhile.
    """
    for code, error in repo.rule_crashes:
        yield Finding.at(None, f"rule {code} failed: {error}")


@rule("HFC004", concern="config", severity="error", phase="final")
def nothing_to_check(repo):
    """The target holds no model and no deployment, so no check applied to it.

    Why: a CI gate that says "All checks passed" on an empty folder, a mistyped path or
    a tree whose models hfcheck does not recognise passes by checking nothing.
    Fix: point hfcheck at the folder that holds the model (config.json, model_index.json,
    modules.json, adapter_config.json, tokenizer files, *.gguf, *.onnx, weights) or the
    service that deploys one (code that loads a model, Dockerfile, compose file,
    Kubernetes manifest, serving config, dependency file).
    """
    found = repo.discovery
    if found is None or repo.unit is not None or found.units:
        return
    from hfcheck.discovery import LOOKED_FOR

    listed = len(repo.files)
    what = f"{listed} file{'s' if listed != 1 else ''}" if listed else "no files"
    yield Finding.at(None, f"nothing to check: {what}, and no model or deployment among them; looked for {LOOKED_FOR}")


@rule("HFC005", concern="config", severity="warning", phase="final")
def unused_suppression(repo):
    """A `# hfcheck: ignore[CODE]` comment silenced nothing: no CODE finding is on its line
    (or, for a comment on a line of its own, on the next line), or CODE is no rule.

    Why: a suppression outlives the problem it silenced; left in place it would hide the
    same problem when it comes back, and a misspelt code silences nothing at all.
    Fix: remove the code from the comment (or the whole comment when it names nothing
    else); `hfcheck rules` lists the codes.
    Example: `transformers  # hfcheck: ignore[PIN001]` in requirements.txt after
    transformers was pinned.
    """
    # The findings pipeline (hfcheck/suppressions.py) reports these: only it knows which
    # suppressions silenced a finding. This entry registers the code, its docs and its
    # severity, so select/ignore/explain treat HFC005 as any other rule.
    return ()
