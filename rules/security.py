"""Pickles, judged without unpickling: which globals each stream imports and calls,
against the allowlist derived from real checkpoints (hfcheck/formats/pickle/policy.py).
Files are found by content, so a pickle named `weights.txt` or `model.safetensors` is
scanned like `pytorch_model.bin`."""

from hfcheck.facts.security import judged_globals, pickle_files
from hfcheck.filekinds import NAMES_THAT_HOLD_PICKLES
from hfcheck.findings import Finding
from hfcheck.registry import rule


@rule("SEC001", concern="security", severity="error")
def dangerous_pickle_global(repo):
    """A pickle imports a known-dangerous callable (process spawning, eval/exec, imports,
    file or network access, getattr chains, nested torch.load).

    Why: `torch.load`, `pickle.load` and `joblib.load` call what the pickle names while
    loading; `posix.system`, `builtins.exec`, `runpy._run_code`, `pip.main` or
    `webbrowser.open` in a weight file runs attacker code on every machine that loads it.
    This is how the malicious models found on the Hub work.
    Fix: do not load the file. Get the weights from a trusted source as safetensors, or
    re-export them from a trusted checkpoint with `save_pretrained(safe_serialization=True)`.
    """
    for rel in pickle_files(repo):
        for item in judged_globals(repo, rel):
            if item.verdict == "dangerous":
                yield Finding.at(rel, f"pickle imports {item.dotted} ({item.reason}) at {item.where}: loading this file runs it")


@rule("SEC002", concern="security", severity="error")
def unknown_pickle_global(repo):
    """A pickle imports a global outside the allowlist of what torch, numpy and Hugging
    Face checkpoints use (a warning for known data-only classes).

    Why: the allowlist is derived from real `torch.save` outputs of many modules and
    dtypes; anything else is code the loader will import and may call, which is how new
    bypasses of denylist scanners (picklescan, modelscan) get through. Known data classes
    (argparse.Namespace, TrainingArguments, enums, datetime), classes of ML libraries that
    only build in-memory objects (scikit-learn, OmegaConf, torch.nn) and the model's own
    class in a whole-module `torch.save(model)` are only a warning that says what must be
    trusted: they are not weights, and `torch.load(weights_only=True)` refuses them.
    Fix: save only tensors (a state_dict) and convert to safetensors; if the global is
    your own class, load with `weights_only=True` after `torch.serialization.add_safe_globals`.
    """
    for rel in pickle_files(repo):
        for item in judged_globals(repo, rel):
            if item.verdict == "unknown":
                why = item.reason.split(": ", 1)[-1]
                yield Finding.at(
                    rel, f"pickle imports {item.dotted}, which is not on the allowlist of checkpoint globals ({why}), at {item.where}"
                )
            elif item.verdict == "data":
                yield Finding.at(
                    rel,
                    f"pickle imports the data class {item.dotted} at {item.where}: harmless by itself, but `weights_only=True` loading refuses it",
                    severity="warning",
                )
            elif item.verdict == "library":
                yield Finding.at(
                    rel,
                    f"pickle rebuilds the {item.reason} class {item.dotted} at {item.where}: loading runs that library's code for it, "
                    f"so it must be trusted (and installed in a compatible version); `weights_only=True` loading refuses it",
                    severity="warning",
                )
            elif item.verdict == "model-class":
                yield Finding.at(
                    rel,
                    f"pickle rebuilds the model from its own class {item.dotted} at {item.where} (a whole-module torch.save): "
                    f"loading imports that class from your code and trusts it; save the state_dict instead",
                    severity="warning",
                )


@rule("SEC003", concern="security", severity="error")
def unverifiable_pickle(repo):
    """A pickle cannot be verified: a global computed at load time, a call of a computed
    value, a malformed or truncated stream, zip headers that disagree, or a scan bound hit.

    Why: each is a known way past scanners (STACK_GLOBAL with operands built by a call,
    local and central zip headers that name different members, flag-bit tricks, payloads
    after the first pickle) or a file the loader reads differently from the scanner; a
    scanner that cannot see what will run must not pass the file.
    Fix: replace the file with safetensors from a trusted source; if you made it, re-save
    it with torch.save and convert it.
    """
    for rel in pickle_files(repo):
        scan = repo.pickle_scan(rel)
        if scan is None:
            continue
        for item in scan.globals:
            if not item.resolved:
                where = f"{f'member {item.member}, ' if item.member else ''}byte {item.offset}"
                yield Finding.at(
                    rel,
                    f"pickle imports a global whose name is computed at load time ({where}): what it runs cannot be known without running it",
                )
        for problem in scan.problems:
            where = ", ".join(
                part
                for part in (
                    f"member {problem.member}" if problem.member else "",
                    f"byte {problem.offset}" if problem.offset is not None else "",
                )
                if part
            )
            yield Finding.at(rel, f"pickle scan: {problem.message}{f' ({where})' if where else ''}")


@rule("SEC004", concern="security", severity="warning")
def disguised_pickle(repo):
    """A file holds a pickle (or a checkpoint archive) under a name that does not say so.

    Why: scanners that choose files by extension skip `model.safetensors`, `weights.txt`
    or `config.json` holding a pickle, while `torch.load(path)` in custom code loads it
    all the same; a disguised pickle is either a mistake or an attack.
    Fix: rename the file to what it is (`.bin`, `.pt`, `.pkl`), or better, convert it to
    safetensors.
    """
    for rel in pickle_files(repo):
        if not rel.lower().endswith(NAMES_THAT_HOLD_PICKLES) and "." in rel.rsplit("/", 1)[-1]:
            scan = repo.pickle_scan(rel)
            kind = scan.container if scan is not None else "pickle"
            what = "a pickle" if kind == "pickle" else f"a {kind} pickle container"
            yield Finding.at(rel, f"{rel} holds {what} under a name that hides it")
