"""Remote code: Python files that `trust_remote_code=True` executes on every machine
that loads the model, and a static scan of what they do. `.py` files that nothing
imports through `auto_map` (a serve.py, training scripts) are not remote code."""

from hfcheck.facts.remote_code import remote_code, scan
from hfcheck.findings import Finding
from hfcheck.registry import rule


def _auto_map_line(repo, source):
    doc = repo.json(source)
    return doc.line_of("auto_map") if doc else None


@rule("SEC100", concern="security", severity="warning")
def trust_remote_code_required(repo):
    """`auto_map` makes transformers load this model's classes from Python files:
    `trust_remote_code=True` will execute them.

    Why: the files run with the loader's privileges on every machine that loads the
    model (CI, serving nodes, laptops), and a later commit can change them; without
    a pinned `revision` the code you reviewed is not the code that runs. Code taken
    from another repo (`org/repo--module.Class`) runs from that repo's head.
    Fix: prefer a model supported natively by transformers; otherwise review the
    files, pin `revision=` to the reviewed commit, and keep the SEC101 scan clean.
    Example: config.json with `"auto_map": {"AutoModelForCausalLM":
    "modeling_foo.FooForCausalLM"}` and modeling_foo.py beside it.
    """
    code = remote_code(repo)
    by_source: dict[str, list] = {}
    for entry in code.entries:
        by_source.setdefault(entry.source, []).append(entry)
    for source, entries in by_source.items():
        local = sorted({e.module_file for e in entries if e.repo_id is None and e.module_file and e.module_file in code.executed})
        others = sorted({f"{e.repo_id} ({e.module_file})" for e in entries if e.repo_id})
        parts = []
        if local:
            parts.append(", ".join(local))
        if others:
            parts.append("code from other repos: " + ", ".join(others))
        if parts:
            yield Finding.at(
                source, f"auto_map in {source}: trust_remote_code=True will execute {'; '.join(parts)}", line=_auto_map_line(repo, source)
            )
    if code.entries and repo.exists("config.json"):
        imported = set(code.executed)
        beside = [rel for rel in repo.glob("*.py") if rel not in imported]
        if beside:
            yield Finding.at(
                beside[0],
                f"{', '.join(beside)} beside a config.json with auto_map: not imported by auto_map now, but shipped as part of the model's code",
            )
    extra = sorted(set(code.executed) - {e.module_file for e in code.entries})
    if extra:
        yield Finding.at(extra[0], f"{', '.join(extra)} imported by the auto_map modules: also executed by trust_remote_code=True")


@rule("SEC101", concern="security", severity="error")
def dangerous_remote_code(repo):
    """A file that `trust_remote_code=True` executes spawns processes, opens network
    connections, calls eval/exec, imports modules by computed name, or writes outside
    the working directory.

    Why: model code needs none of these to build a network; they are how malicious
    remote code (crypto miners, credential stealers, reverse shells found on the Hub)
    runs when the model is loaded. Found by a static AST scan of the auto_map modules
    and their local imports; nothing is imported or run.
    Fix: remove the call from the model code (download files with the Hub client at
    setup time, not at import), or do not load the model with trust_remote_code.
    """
    for rel in remote_code(repo).executed:
        result = scan(repo, rel)
        if result is None or result.error:
            continue
        for danger in result.dangers[:30]:
            yield Finding.at(
                rel, f"{danger.kind}: {danger.what} runs when the model is loaded with trust_remote_code=True", line=danger.line
            )


@rule("SEC102", concern="security", severity="error")
def remote_code_broken(repo):
    """A module that `auto_map` (or one of its relative imports) needs is missing, or
    does not parse, or the `auto_map` entry is malformed.

    Why: `from_pretrained(..., trust_remote_code=True)` fails with "does not appear to
    have a file named modeling_foo.py" or a SyntaxError, and hfcheck cannot scan code
    it cannot see.
    Fix: commit the module beside config.json (`model.save_pretrained` copies it when
    the class was registered with `register_for_auto_class`), or correct the
    reference to `module.ClassName`.
    """
    code = remote_code(repo)
    for entry in code.entries:
        if entry.module_file is None:
            yield Finding.at(
                entry.source,
                f"auto_map {entry.auto_class} is {entry.reference!r}, not 'module.ClassName'",
                line=_auto_map_line(repo, entry.source),
            )
    for rel, needed_by in code.missing:
        yield Finding.at(
            needed_by,
            f"{rel} is needed by {needed_by} but is not in the repo",
            line=_auto_map_line(repo, needed_by) if needed_by.endswith(".json") else None,
        )
    for rel in code.executed:
        result = scan(repo, rel)
        if result is not None and result.error:
            yield Finding.at(rel, f"{rel} {result.error}")
