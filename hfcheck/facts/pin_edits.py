"""Pinning one dependency declaration in the text of the file that declares it, for the
pin fixers (rules/pinning.py): the rewrite in the file's own syntax, checked by parsing
the edited text again with the file's own parser. The fixers decide what to pin; how a
file is written and read stays here and in formats/."""

from __future__ import annotations

import re

from hfcheck.edits import FixRefused
from hfcheck.facts import deploy


def pinned_text(repo, path: str, text: str, package: str, dependency, version: str, same: int = 1) -> str:
    """`text` of `path` with `dependency` (a declaration of `package` read from it)
    pinned to `version`; `same` declarations of it in one shell command are pinned
    together. Raises FixRefused when the file's syntax cannot be rewritten safely or the
    edit would change anything else the file declares."""
    from hfcheck.formats.pin_rewrite import PinError

    try:
        pinned = _rewrite(deploy.dependency_file_kind(repo, path), text, package, dependency, version, same)
    except PinError as why:
        raise FixRefused(str(why)) from why
    _check_rewrite(repo, path, text, pinned, dependency, version)
    return pinned


def _rewrite(kind: str, text: str, package: str, dep, version: str, same: int) -> str:
    from hfcheck.formats import pin_rewrite as pin

    if kind == "requirements":
        return pin.pin_in_requirements(text, dep.line, package, version)
    if kind in ("dockerfile", "shell"):
        return pin.pin_in_shell(text, dep.line, dep.raw, package, version, expected=same)
    if kind == "setup.cfg":
        return pin.pin_in_setup_cfg(text, dep.line, dep.raw, package, version)
    if kind == "environment":
        return pin.pin_in_environment_yml(text, dep.line, package, version)
    if kind == "pyproject" and not re.match(r"[\w.-]+ = ", dep.raw):  # a PEP 621 string, not a Poetry entry
        return pin.pin_in_pep621(text, dep.line, dep.raw, package, version)
    return pin.pin_in_toml_table(text, dep.line, package, version if kind == "pyproject" else "==" + version)


def declared_in(repo, path: str, text: str) -> list:
    """The dependencies the file's own parser reads from `text` (an edited copy of `path`)."""
    from hfcheck.formats import dependency_files as files
    from hfcheck.formats.requirements import parse_requirements
    from hfcheck.formats.shell import parse_dockerfile, parse_shell

    kind = deploy.dependency_file_kind(repo, path)
    if kind == "requirements":
        return parse_requirements(text).dependencies
    if kind in ("dockerfile", "shell"):
        doc = parse_dockerfile(text) if kind == "dockerfile" else parse_shell(text)
        installs = (deploy.pip_installs(command.words, command.line) for command in doc.commands)
        return [dep for install in installs if install is not None for dep in install.dependencies]
    parse = {
        "pyproject": files.parse_pyproject,
        "pipfile": files.parse_pipfile,
        "setup.cfg": files.parse_setup_cfg,
        "environment": files.parse_environment_yml,
    }[kind]
    parsed = parse(text)
    if parsed.error:
        raise FixRefused(f"the edited file does not parse: {parsed.error}")
    return parsed.dependencies


def _check_rewrite(repo, path, before_text, after_text, dep, version) -> None:
    """The file's parser reads the edited text as before, except that this one
    declaration now pins `version`: the edit touched nothing else."""
    before, after = declared_in(repo, path, before_text), declared_in(repo, path, after_text)
    if [(d.name, d.line) for d in before] != [(d.name, d.line) for d in after]:
        raise FixRefused("the edit would change which requirements the file declares; pin it by hand")
    for old, new in zip(before, after):
        if (old.name, old.line, old.raw) == (dep.name, dep.line, dep.raw):
            if new.pinned_version != version:
                raise FixRefused(f"the edited declaration does not read as =={version}; pin it by hand")
        elif old.specifier != new.specifier:
            raise FixRefused("the edit would change another requirement; pin it by hand")
