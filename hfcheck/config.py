"""Settings: the nearest `.hfcheck.yaml` / `[tool.hfcheck]` in pyproject.toml walking up
from each unit's folder to the repository root (the folder with `.git`), like ruff's
hierarchical lookup, or `--config FILE`; a `models:` table gives one model (by its path
from the settings file's folder) its own settings, e.g. its deploy envelope; command-line
flags override the file. Unknown keys and wrong types are reported as findings (HFC002);
unknown rule codes, prefixes and concerns are usage errors (`SelectorError`)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

from hfcheck.findings import SEVERITIES

FAIL_ON = ("error", "warning", "info", "never")
CONFIG_FILES = (".hfcheck.yaml", ".hfcheck.yml", "pyproject.toml")

# Rule modules declare their own option sections here (see `declare_options`), so an
# unknown option is caught without the engine knowing any rule.
_DECLARED_OPTIONS: dict[str, dict[str, Any]] = {}


def declare_options(section: str, **defaults: Any) -> None:
    _DECLARED_OPTIONS.setdefault(section, {}).update(defaults)


@dataclass
class ServiceLevels:
    """Service levels the deployment promises, checked against what --smoke measures."""

    ttft_ms: float | None = None  # time to first token at the declared envelope
    tokens_per_s: float | None = None  # decode tokens/s of one sequence at the declared batch


@dataclass
class Deploy:
    """The serving hardware and load the model must fit."""

    gpus: int | None = None
    gpu_memory_gib: float | None = None
    max_batch_size: int | None = None
    max_seq_len: int | None = None
    gpu_memory_utilization: float = 0.9
    slo: ServiceLevels = field(default_factory=ServiceLevels)

    @property
    def declared(self) -> bool:
        return self.gpus is not None and self.gpu_memory_gib is not None


class SettingsProblem(NamedTuple):
    message: str
    path: str | None
    line: int | None = None


@dataclass
class Settings:
    select: list[str] = field(default_factory=lambda: ["ALL"])
    ignore: list[str] = field(default_factory=list)
    severity: dict[str, str] = field(default_factory=dict)
    fail_on: str = "error"
    per_path_ignores: dict[str, list[str]] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    deploy: Deploy = field(default_factory=Deploy)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str | None = None  # where the settings came from, relative to the target
    problems: list[SettingsProblem] = field(default_factory=list)
    models: dict[str, dict] = field(default_factory=dict)  # unit path (from the settings file's folder) -> its own table

    def option(self, section: str, key: str) -> Any:
        """A rule option: the configured value, else the default its module declared."""
        return self.options.get(section, {}).get(key, _DECLARED_OPTIONS.get(section, {}).get(key))


_LIST_KEYS = ("select", "ignore", "exclude")
_TOP_KEYS = {
    "select",
    "ignore",
    "severity",
    "fail_on",
    "fail-on",
    "per_path_ignores",
    "per-path-ignores",
    "per_file_ignores",
    "per-file-ignores",
    "exclude",
    "deploy",
    "options",
    "models",
}
# What a `models:` entry may set for its model.
_MODEL_KEYS = {
    "select",
    "ignore",
    "severity",
    "per_path_ignores",
    "per-path-ignores",
    "per_file_ignores",
    "per-file-ignores",
    "deploy",
    "options",
}


class SelectorError(ValueError):
    """An unknown rule code, prefix or concern in select/ignore/severity/per_path_ignores:
    a usage error (exit 2), never a silently empty selection."""


def check_selectors(settings: Settings, where: str = "") -> None:
    """Raise SelectorError for a code, prefix or concern no rule has, with a did-you-mean."""
    from hfcheck import catalogue

    rules = catalogue.rules()
    codes = {r.code for r in rules}
    concerns = {r.concern for r in rules} | set(_concerns())
    for code in settings.severity:
        if code not in codes:
            raise SelectorError(f"{where}severity: unknown rule code {code!r}{_did_you_mean(code, codes, set())}")
    groups = [("select", settings.select), ("ignore", settings.ignore)]
    groups += [(f"per_path_ignores[{pattern!r}]", values) for pattern, values in settings.per_path_ignores.items()]
    for key, values in groups:
        for value in values:
            text = str(value).strip()
            if text.upper() == "ALL" or text in concerns or (text and any(code.startswith(text.upper()) for code in codes)):
                continue
            raise SelectorError(f"{where}{key}: unknown rule code, prefix or concern {text!r}{_did_you_mean(text, codes, concerns)}")


def _concerns() -> tuple[str, ...]:
    from hfcheck.findings import CONCERNS

    return CONCERNS


def _did_you_mean(text: str, codes: set[str], concerns: set[str]) -> str:
    import difflib

    families = {code.rstrip("0123456789") for code in codes}  # CFG, PIN, TOK, ...
    close = difflib.get_close_matches(text.upper(), sorted(codes | families), n=3, cutoff=0.6) or difflib.get_close_matches(
        text.lower(), sorted(concerns), n=3, cutoff=0.6
    )
    # Among equally close names, a typo usually keeps the first letter (CGF -> CFG, not GGF).
    close.sort(key=lambda name: name[:1].upper() != text[:1].upper())
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (`hfcheck rules` lists the codes; concerns: {', '.join(sorted(concerns))})"


def find_config(root: Path) -> Path | None:
    for name in CONFIG_FILES:
        candidate = root / name
        if candidate.is_file():
            if name != "pyproject.toml" or _has_tool_table(candidate):
                return candidate
    return None


def _has_tool_table(pyproject: Path) -> bool:
    try:
        return "[tool.hfcheck" in pyproject.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def find_config_upwards(folder: Path, stop: Path | None = None) -> Path | None:
    """The nearest settings file at or above `folder`, looking no higher than `stop`
    (the repository root); without `stop`, only `folder` itself."""
    try:
        current, stop = folder.resolve(), (stop or folder).resolve()
    except OSError:
        return find_config(folder)
    if current != stop and stop not in current.parents:
        return find_config(folder)
    while True:
        found = find_config(current)
        if found is not None or current == stop or current.parent == current:
            return found
        current = current.parent


def load_settings(
    root: Path, config_file: Path | None = None, overrides: dict | None = None, *, stop: Path | None = None, unit: Path | None = None
) -> Settings:
    """The settings of the target at `root` (or of the unit folder `unit` inside it): the
    given file, else the nearest one walking up to `stop`; its `models:` entry for the
    unit, if any; then the command-line overrides. Labels are relative to `root`."""
    settings = Settings()
    folder = unit or root
    path = config_file or find_config_upwards(folder, stop)
    if path is not None:
        label = _label(path, root)
        settings.source = label
        raw, problem = _read_table(path)
        if problem:
            settings.problems.append(SettingsProblem(problem, label))
        else:
            _apply(settings, raw, label)
            own = _model_entry(settings, path.parent, folder)
            if own is not None:
                _apply(settings, own, label, keys=_MODEL_KEYS)
    for key, value in (overrides or {}).items():
        if value is not None:
            setattr(settings, key, value)
    return settings


def _label(path: Path, root: Path) -> str:
    import os

    try:
        return str(path.relative_to(root))
    except ValueError:
        pass
    try:
        relative = os.path.relpath(path.resolve(), Path(root).resolve())
    except (OSError, ValueError):
        return str(path)
    return relative if relative.count("..") <= 3 else str(path)


def _model_entry(settings: Settings, base: Path, folder: Path) -> dict | None:
    """The `models:` table entry naming `folder` (a path from the settings file's folder)."""
    if not settings.models:
        return None
    import os

    try:
        rel = Path(os.path.relpath(folder.resolve(), base.resolve())).as_posix()
    except (OSError, ValueError):
        return None
    for key, table in settings.models.items():
        if str(key).strip("/") in (rel, rel.removeprefix("./")) or (rel == "." and str(key) in (".", "./")):
            return table
    return None


def _read_table(path: Path) -> tuple[dict, str | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return {}, f"cannot read hfcheck settings: {error}"
    if path.suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        try:
            table = tomllib.loads(text).get("tool", {}).get("hfcheck", {})
        except tomllib.TOMLDecodeError as error:
            return {}, f"invalid TOML: {error}"
    else:
        from hfcheck.formats.yaml_doc import parse_yaml

        doc = parse_yaml(text)
        if doc.error:
            return {}, f"invalid YAML{f' at line {doc.error.line}' if doc.error.line else ''}: {doc.error.message}"
        table = doc.data if doc.data is not None else {}
    if not isinstance(table, dict):
        return {}, "hfcheck settings must be a table of keys"
    return table, None


def _apply(settings: Settings, raw: dict, label: str, keys: set[str] = _TOP_KEYS) -> None:  # noqa: C901 - older than the bound; split it when it next changes
    def problem(message: str) -> None:
        settings.problems.append(SettingsProblem(message, label))

    for key, value in raw.items():
        name = str(key).replace("-", "_")
        if name == "per_file_ignores":  # ruff's name for the same table
            name = "per_path_ignores"
        if key not in keys:
            problem(f"unknown setting {key!r} (known: {', '.join(sorted(k for k in keys if '-' not in k))})")
        elif name == "models":
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                problem("models must map model folders to tables of settings (deploy, select, ignore, severity, options)")
            else:
                for entry in value.values():
                    for inner in entry:
                        if inner not in _MODEL_KEYS:
                            problem(
                                f"unknown setting {inner!r} in models (known: {', '.join(sorted(k for k in _MODEL_KEYS if '-' not in k))})"
                            )
                settings.models = {str(k): v for k, v in value.items()}
        elif name in _LIST_KEYS:
            if isinstance(value, str):
                value = [value]
            if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                problem(f"{key} must be a list of rule codes, prefixes or concerns")
            else:
                setattr(settings, name, value)
        elif name == "severity":
            if not isinstance(value, dict):
                problem("severity must map rule codes to error, warning or info")
                continue
            for code, severity in value.items():
                if severity not in SEVERITIES:
                    problem(f"severity of {code}: {severity!r} is not one of {', '.join(SEVERITIES)}")
                else:
                    settings.severity[str(code).upper()] = severity
        elif name == "fail_on":
            if value not in FAIL_ON:
                problem(f"fail_on: {value!r} is not one of {', '.join(FAIL_ON)}")
            else:
                settings.fail_on = value
        elif name == "per_path_ignores":
            if not isinstance(value, dict) or not all(
                isinstance(v, str) or (isinstance(v, list) and all(isinstance(i, str) for i in v)) for v in value.values()
            ):
                problem("per_path_ignores must map path patterns to lists of rule codes")
            else:
                settings.per_path_ignores = {str(k): [v] if isinstance(v, str) else list(v) for k, v in value.items()}
        elif name == "deploy":
            _apply_deploy(settings, value, problem)
        elif name == "options":
            _apply_options(settings, value, problem)


def _apply_deploy(settings: Settings, value: Any, problem) -> None:
    if not isinstance(value, dict):
        problem("deploy must be a table (gpus, gpu_memory_gib, max_batch_size, max_seq_len)")
        return
    kinds = {f.name: f.type for f in fields(Deploy) if f.name != "slo"}
    for key, item in value.items():
        if key == "slo":
            _apply_service_levels(settings, item, problem)
            continue
        if key not in kinds:
            problem(f"unknown deploy setting {key!r} (known: {', '.join([*kinds, 'slo'])})")
            continue
        wants_int = "int" in kinds[key]
        good = isinstance(item, int) if wants_int else isinstance(item, (int, float))
        if isinstance(item, bool) or not good or item <= 0:
            problem(f"deploy.{key} must be a positive {'integer' if wants_int else 'number'}, got {item!r}")
            continue
        setattr(settings.deploy, key, item)


def _apply_service_levels(settings: Settings, value: Any, problem) -> None:
    known = [f.name for f in fields(ServiceLevels)]
    if not isinstance(value, dict):
        problem(f"deploy.slo must be a table ({', '.join(known)})")
        return
    for key, item in value.items():
        if key not in known:
            problem(f"unknown deploy.slo setting {key!r} (known: {', '.join(known)})")
        elif isinstance(item, bool) or not isinstance(item, (int, float)) or item <= 0:
            problem(f"deploy.slo.{key} must be a positive number, got {item!r}")
        else:
            setattr(settings.deploy.slo, key, float(item))


def _apply_options(settings: Settings, value: Any, problem) -> None:
    if not isinstance(value, dict):
        problem("options must be a table of sections")
        return
    for section, table in value.items():
        known = _DECLARED_OPTIONS.get(section)
        if known is None:
            problem(f"unknown options section {section!r} (known: {', '.join(sorted(_DECLARED_OPTIONS)) or 'none'})")
        elif not isinstance(table, dict):
            problem(f"options.{section} must be a table")
        else:
            for key in table:
                if key not in known:
                    problem(f"unknown option {section}.{key} (known: {', '.join(sorted(known))})")
            settings.options[section] = {k: v for k, v in table.items() if k in known}
