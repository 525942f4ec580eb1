"""Dependencies declared in pyproject.toml (PEP 621 and Poetry), Pipfile,
environment.yml, setup.cfg, and the versions lock files pin (poetry.lock, uv.lock,
pdm.lock, Pipfile.lock). Development-only groups are left out: they are not what the
service runs. Parsers never raise: a file that does not parse gives `.error`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hfcheck.formats.requirements import Dependency, canonical, parse_requirement

LOCK_FILES = ("poetry.lock", "uv.lock", "pdm.lock", "Pipfile.lock", "conda-lock.yml", "conda-lock.yaml")
_DEV_GROUPS = {"dev", "test", "tests", "lint", "docs", "doc", "typing", "develop", "development", "bench", "benchmark"}


@dataclass
class DependencyFile:
    dependencies: list[Dependency] = field(default_factory=list)
    error: str | None = None


@dataclass
class LockFile:
    versions: dict = field(default_factory=dict)  # canonical name -> version ("" when unknown)
    error: str | None = None


def _toml(text: str):
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(text), None
    except (tomllib.TOMLDecodeError, ValueError, RecursionError) as error:
        return None, f"invalid TOML: {error}"


class _Lines:
    """Finds the line that declares something, by text (TOML and YAML parsers drop lines).
    With `section`, only lines under those TOML/INI headers count (the same text in another
    table, e.g. dev-packages, is not the declaration); no match there falls back to the file."""

    _HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(?:#.*)?$")

    def __init__(self, text: str):
        self.lines = text.splitlines()

    def _sections(self):
        current = ""
        for number, line in enumerate(self.lines, 1):
            header = self._HEADER.match(line)
            if header:
                current = re.sub(r"\s*\.\s*", ".", header.group(1)).replace('"', "").replace("'", "")
                continue
            yield number, line, current

    def of(self, *needles: str, pattern: str | None = None, section: tuple[str, ...] | None = None) -> int | None:
        """The first line with `pattern`, or with one of the needles as a whole item (`torch`
        is not found in `torchvision` or `transformers[torch]`); earlier needles first."""
        regexes = [re.compile(pattern, re.IGNORECASE)] if pattern else []
        regexes += [re.compile(rf"(?<![\w.\[-]){re.escape(n)}(?![\w.\[\]-])") for n in needles if n]
        for regex in regexes:
            for number, line, current in self._sections():
                if (section is None or current in section) and regex.search(line):
                    return number
        return self.of(*needles, pattern=pattern) if section is not None else None

    def of_name(self, name: str, section: tuple[str, ...] | None = None) -> int | None:
        """The line of a `name = ...` table entry (any spelling of the name)."""
        spelled = r"[-_.]+".join(re.escape(p) for p in re.split(r"[-_.]+", name))
        return self.of(pattern=rf"^\s*[\"']?{spelled}[\"']?\s*=", section=section)


def _pep508_list(values, lines: _Lines, out: list, section: tuple[str, ...] | None = None) -> None:
    if not isinstance(values, list):
        return
    for value in values:
        if isinstance(value, str):
            dep = parse_requirement(value, lines.of(f'"{value}"', f"'{value}'", value, section=section))
            if dep is not None:
                out.append(dep)


def _poetry_specifier(value) -> str | None:
    """Poetry's constraint syntax in PEP 440 terms: exact versions stay exact, `^` and `~`
    become the ranges Poetry means (`^4.40` is `>=4.40,<5.0`), `4.*` is `==4.*`. None for
    path/git/url dependencies without a version; an `||` union is left as written (it does
    not parse as PEP 440, so nothing treats it as a pin)."""
    if isinstance(value, dict):
        if "version" in value:
            value = value["version"]
        elif "rev" in value and isinstance(value.get("rev"), str) and re.fullmatch(r"[0-9a-f]{40}", value["rev"]):
            return "===" + value["rev"]
        else:
            return None
    if isinstance(value, list):  # multiple-constraint form
        return ""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if value in ("", "*"):
        return ""
    if re.fullmatch(r"\d+(\.\d+)*([a-z]+\d*)?(\.post\d+)?", value):
        return "==" + value
    if "||" in value:
        return value.replace(" ", "")
    # `>=4.40 <5` (a space) means the same as `>=4.40,<5`
    parts = [p for p in re.split(r"\s*,\s*|(?<=[\w*])\s+(?=[<>=!~^\d])", value) if p]
    return ",".join(_poetry_part(p.replace(" ", "")) for p in parts)


def _poetry_part(part: str) -> str:
    if re.fullmatch(r"\d+(\.\d+)*\.\*", part):
        return "==" + part
    if part[:1] not in "^~" or part[1:2] == "=":
        return part
    version = part[1:]
    numbers = re.match(r"\d+(\.\d+)*", version)
    if not numbers:
        return ">=" + version
    release = [int(n) for n in numbers.group(0).split(".")]
    if part[0] == "^":  # bump the first non-zero component (the last given one when all are zero)
        index = next((i for i, n in enumerate(release) if n), len(release) - 1)
    else:  # ~1.2.3 and ~1.2 allow patch changes, ~1 minor ones
        index = min(1, len(release) - 1)
    upper = release[:index] + [release[index] + 1]
    return f">={version},<{'.'.join(map(str, upper + [0] * max(0, 2 - len(upper))))}"


def _table_deps(table, lines: _Lines, out: list, skip=("python",), section: tuple[str, ...] | None = None) -> None:
    if not isinstance(table, dict):
        return
    for name, value in table.items():
        if not isinstance(name, str) or name.lower() in skip:
            continue
        specifier = _poetry_specifier(value)
        if specifier is None:
            continue
        line = lines.of_name(name, section)
        out.append(Dependency(canonical(name), specifier, line, f"{name} = {value!r}"))


def parse_pyproject(text: str) -> DependencyFile:
    data, error = _toml(text)
    if error:
        return DependencyFile(error=error)
    lines = _Lines(text)
    result = DependencyFile()
    project = data.get("project")
    if isinstance(project, dict):
        _pep508_list(project.get("dependencies"), lines, result.dependencies, ("project",))
    tool = data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    if isinstance(poetry, dict):
        _table_deps(poetry.get("dependencies"), lines, result.dependencies, section=("tool.poetry.dependencies",))
        groups = poetry.get("group")
        if isinstance(groups, dict):
            for group, body in groups.items():
                if str(group).lower() not in _DEV_GROUPS and isinstance(body, dict):
                    _table_deps(body.get("dependencies"), lines, result.dependencies, section=(f"tool.poetry.group.{group}.dependencies",))
    return result


def parse_pipfile(text: str) -> DependencyFile:
    data, error = _toml(text)
    if error:
        return DependencyFile(error=error)
    result = DependencyFile()
    _table_deps(data.get("packages"), _Lines(text), result.dependencies, skip=(), section=("packages",))
    return result


def parse_setup_cfg(text: str) -> DependencyFile:
    import configparser

    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except (configparser.Error, ValueError) as error:
        return DependencyFile(error=f"invalid setup.cfg: {str(error).splitlines()[0]}")
    result = DependencyFile()
    if parser.has_option("options", "install_requires"):
        lines = _Lines(text)
        for item in parser.get("options", "install_requires").splitlines():
            item = item.split("#")[0].strip()
            if item:
                dep = parse_requirement(item, lines.of(item, section=("options",)))
                if dep is not None:
                    result.dependencies.append(dep)
    return result


def _conda_spec(spec: str) -> str | None:
    """A conda match spec (`name=1.2`, `name==1.2`, `channel::name>=1`, `name 1.2 build`) as PEP 440."""
    spec = spec.split("::")[-1].strip()
    match = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", spec)
    if not match:
        return None
    name, rest = match.groups()
    rest = rest.strip()
    if not rest:
        return f"{name}"
    if rest.startswith("=") and not rest.startswith("=="):
        version = rest[1:].split("=")[0]
        return f"{name}=={version}" if "*" not in version else f"{name}=={version.rstrip('.*')}.*"
    if re.match(r"^\d", rest):  # `name 1.2 build`
        return f"{name}=={rest.split()[0]}"
    return f"{name}{rest.split()[0] if ' ' in rest else rest}"


def parse_environment_yml(text: str) -> DependencyFile:
    from hfcheck.formats.yaml_doc import parse_yaml

    doc = parse_yaml(text)
    if doc.error:
        return DependencyFile(error=f"invalid YAML: {doc.error.message}")
    result = DependencyFile()
    data = doc.data if isinstance(doc.data, dict) else {}
    lines = _Lines(text)
    dependencies = data.get("dependencies")
    for item in dependencies if isinstance(dependencies, list) else []:
        if isinstance(item, str):
            converted = _conda_spec(item)
            dep = parse_requirement(converted, lines.of(f"- {item}", item)) if converted else None
            if dep is not None and dep.name != "python":
                result.dependencies.append(dep)
        elif isinstance(item, dict) and isinstance(item.get("pip"), list):
            for pip_item in item["pip"]:
                if isinstance(pip_item, str) and not pip_item.startswith("-"):
                    dep = parse_requirement(pip_item, lines.of(f"- {pip_item}", pip_item))
                    if dep is not None:
                        result.dependencies.append(dep)
    return result


def parse_lock(name: str, text: str) -> LockFile:
    """Versions a lock file pins, by canonical package name."""
    result = LockFile()
    if name == "Pipfile.lock":
        import json

        try:
            data = json.loads(text)
        except ValueError as error:
            return LockFile(error=f"invalid JSON: {error}")
        section = data.get("default") if isinstance(data, dict) else None
        for pkg, info in (section or {}).items() if isinstance(section, dict) else ():
            version = info.get("version", "") if isinstance(info, dict) else ""
            result.versions[canonical(str(pkg))] = str(version).lstrip("=")
        return result
    if name.endswith((".yml", ".yaml")):
        current = None
        for line in text.splitlines()[:500_000]:
            name_match = re.match(r"^\s*-?\s*name:\s*['\"]?([A-Za-z0-9_.\-]+)", line)
            version_match = re.match(r"^\s*version:\s*['\"]?([^'\"\s]+)", line)
            if name_match:
                current = canonical(name_match.group(1))
            elif version_match and current:
                result.versions.setdefault(current, version_match.group(1))
                current = None
        return result
    data, error = _toml(text)
    if error:
        return LockFile(error=error)
    packages = data.get("package")
    for package in packages if isinstance(packages, list) else []:
        if isinstance(package, dict) and isinstance(package.get("name"), str):
            result.versions[canonical(package["name"])] = str(package.get("version", ""))
    return result
