"""Settings: `[tool.hfcheck]` in pyproject.toml or `.hfcheck.yaml` at the target root, or
`--config FILE`; command-line flags override the file. Unknown keys and wrong types are
reported as findings (HFC002), never silently ignored."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from hfcheck.findings import SEVERITIES

FAIL_ON = ("error", "warning", "info", "never")
CONFIG_FILES = (".hfcheck.yaml", ".hfcheck.yml", "pyproject.toml")

# Rule modules declare their own option sections here (see `declare_options`), so an
# unknown option is caught without the engine knowing any rule.
_DECLARED_OPTIONS: dict[str, dict[str, Any]] = {}


def declare_options(section: str, **defaults: Any) -> None:
    _DECLARED_OPTIONS.setdefault(section, {}).update(defaults)


@dataclass
class Deploy:
    """The serving hardware and load the model must fit."""

    gpus: int | None = None
    gpu_memory_gib: float | None = None
    max_batch_size: int | None = None
    max_seq_len: int | None = None
    gpu_memory_utilization: float = 0.9

    @property
    def declared(self) -> bool:
        return self.gpus is not None and self.gpu_memory_gib is not None


@dataclass(frozen=True)
class SettingsProblem:
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

    def option(self, section: str, key: str) -> Any:
        """A rule option: the configured value, else the default its module declared."""
        return self.options.get(section, {}).get(key, _DECLARED_OPTIONS.get(section, {}).get(key))


_LIST_KEYS = ("select", "ignore", "exclude")
_TOP_KEYS = {"select", "ignore", "severity", "fail_on", "fail-on", "per_path_ignores", "per-path-ignores", "per_file_ignores", "per-file-ignores", "exclude", "deploy", "options"}


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


def load_settings(root: Path, config_file: Path | None = None, overrides: dict | None = None) -> Settings:
    settings = Settings()
    path = config_file or find_config(root)
    if path is not None:
        try:
            label = str(path.relative_to(root))
        except ValueError:
            label = str(path)
        settings.source = label
        raw, problem = _read_table(path)
        if problem:
            settings.problems.append(SettingsProblem(problem, label))
        else:
            _apply(settings, raw, label)
    for key, value in (overrides or {}).items():
        if value is not None:
            setattr(settings, key, value)
    return settings


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


def _apply(settings: Settings, raw: dict, label: str) -> None:
    def problem(message: str) -> None:
        settings.problems.append(SettingsProblem(message, label))

    for key, value in raw.items():
        name = str(key).replace("-", "_")
        if name == "per_file_ignores":  # ruff's name for the same table
            name = "per_path_ignores"
        if key not in _TOP_KEYS:
            problem(f"unknown setting {key!r} (known: {', '.join(sorted(k for k in _TOP_KEYS if '-' not in k))})")
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
            if not isinstance(value, dict) or not all(isinstance(v, (list, str)) for v in value.values()):
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
    kinds = {f.name: f.type for f in fields(Deploy)}
    for key, item in value.items():
        if key not in kinds:
            problem(f"unknown deploy setting {key!r} (known: {', '.join(kinds)})")
            continue
        wants_int = "int" in kinds[key]
        good = isinstance(item, int) if wants_int else isinstance(item, (int, float))
        if isinstance(item, bool) or not good or item <= 0:
            problem(f"deploy.{key} must be a positive {'integer' if wants_int else 'number'}, got {item!r}")
            continue
        setattr(settings.deploy, key, item)


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
