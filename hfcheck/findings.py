"""Findings are plain data: what a rule says about one place in a repository."""

from __future__ import annotations

from dataclasses import dataclass, replace

SEVERITIES = ("error", "warning", "info")
SEVERITY_RANK = {"info": 1, "warning": 2, "error": 3}

CONCERNS = (
    "tokenizer",
    "special-tokens",
    "weights",
    "security",
    "pinning",
    "card",
    "license",
    "device-map",
    "generation",
    "config",
    "smoke",
)


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    concern: str
    message: str
    path: str | None = None
    line: int | None = None
    fix: str | None = None
    unit: str = "."  # the unit (model or deployment folder, relative to the target) it belongs to

    @classmethod
    def at(
        cls,
        path: str | None,
        message: str,
        *,
        line: int | None = None,
        fix: str | None = None,
        severity: str | None = None,
        concern: str | None = None,
    ) -> Finding:
        """A finding from inside a rule: the engine fills in the rule's code, and its
        severity and concern unless the rule chose another for this one finding."""
        return cls(code="", severity=severity or "", concern=concern or "", message=message, path=path, line=line, fix=fix)

    def completed(self, code: str, severity: str, concern: str, fix: str | None) -> Finding:
        return replace(
            self,
            code=code,
            severity=self.severity or severity,
            concern=self.concern or concern,
            fix=self.fix if self.fix is not None else fix,
        )

    def sort_key(self):
        return (self.path or "", self.line or 0, self.code, self.message)

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "concern": self.concern,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "fix": self.fix,
            "unit": self.unit,
        }
