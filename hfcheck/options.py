"""CheckOptions: everything one `hfcheck check` run was asked to do, as plain data.

The CLI builds one from its flags, Python callers may build one directly; `validate()`
is the one place where combinations are judged, so the CLI and the API reject the same
things with the same words."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from hfcheck.report import FORMATS  # one list of report formats

EXECUTORS = ("local", "ray")
FAIL_ON = ("error", "warning", "info", "never")
DEVICES = ("auto", "cuda", "cpu")


class OptionsError(ValueError):
    """Options that cannot work together: a usage error (exit 2)."""


@dataclass
class CheckOptions:
    targets: list[str] = field(default_factory=list)
    format: str = "text"
    output: Path | None = None
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    fail_on: str | None = None  # None: the settings file's, else "error"
    config_file: Path | None = None
    baseline: Path | None = None
    write_baseline: Path | None = None
    jobs: int = 1  # 0: one per CPU
    hf_cache: bool = False
    download_pickles: bool = False
    quiet: bool = False
    statistics: bool = False
    show_fixes: bool = False
    show_files: bool = False
    show_settings: bool = False
    fix: bool = False
    unsafe_fixes: bool = False
    diff: bool = False
    fix_remove_pickles: bool = False
    smoke: bool = False
    device: str = "auto"
    trust_remote_code: bool = False
    cache: bool = True
    cache_dir: Path | None = None
    debug: bool = False
    # auditing a registry (hfcheck.audit): a targets file, JSONL out, resumable, local or Ray
    targets_from: str | None = None
    resume: Path | None = None
    executor: str = "local"
    ray_address: str | None = None

    @classmethod
    def from_mapping(cls, values: dict) -> CheckOptions:
        """Options from a plain mapping (e.g. a tool's config); unknown keys are an error,
        not silently dropped."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise OptionsError(f"unknown option{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
        return cls(**values).validate()

    def validate(self) -> CheckOptions:
        """Judge the combination once; returns self so it chains."""
        _one_of("format", self.format, FORMATS)
        _one_of("executor", self.executor, EXECUTORS)
        auditing = self.targets_from is not None
        if (self.resume or self.executor == "ray" or self.ray_address) and not auditing:
            raise OptionsError("--resume, --executor ray and --ray-address audit a targets file: give --targets-from FILE")
        if auditing and (
            self.targets or self.hf_cache or self.fix or self.diff or self.write_baseline or self.statistics or self.show_fixes
        ):
            raise OptionsError(
                "--targets-from takes its targets from the file: no TARGETS, --hf-cache, --fix/--diff, --write-baseline, --statistics or --show-fixes"
            )
        if auditing and self.resume and self.format == "jsonl" and self.output:
            raise OptionsError("--format jsonl with --resume FILE writes its lines to FILE: no --output")
        _one_of("device", self.device, DEVICES)
        if self.fail_on is not None:
            _one_of("fail-on", self.fail_on, FAIL_ON)
        if self.jobs < 0:
            raise OptionsError(f"--jobs: {self.jobs} is below 0")
        self.select, self.ignore = split_codes(self.select), split_codes(self.ignore)
        if (self.unsafe_fixes or self.fix_remove_pickles) and not (self.fix or self.diff):
            raise OptionsError(
                "--unsafe-fixes and --fix-remove-pickles need --fix (apply) or --diff (preview): nothing is changed without --fix"
            )
        if (self.fix or self.diff) and self.hf_cache:
            raise OptionsError("--fix/--diff apply to local folders, not to the Hugging Face cache")
        if self.statistics and self.format not in ("text", "json"):
            raise OptionsError("--statistics prints counts as text or json, not as " + self.format)
        for flag, wanted in (("--show-files", self.show_files), ("--show-settings", self.show_settings)):
            if wanted and self.format != "text":
                raise OptionsError(f"{flag} adds to the text report; it does not apply to --format {self.format}")
        return self

    @property
    def preview(self) -> bool:
        """--diff, alone or with --fix (as in ruff): show the edits and write nothing."""
        return self.diff

    def overrides(self) -> dict:
        """The Settings fields the flags override (None: keep the file's)."""
        return {"select": self.select or None, "ignore": self.ignore or None, "fail_on": self.fail_on}


def split_codes(values: list[str] | tuple[str, ...] | str | None) -> list[str]:
    """`--select A,B --select C` -> [A, B, C]."""
    if isinstance(values, str):
        values = [values]
    return [item.strip() for value in values or () for item in value.split(",") if item.strip()]


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise OptionsError(f"--{name}: {value!r} is not one of {', '.join(allowed)}")
