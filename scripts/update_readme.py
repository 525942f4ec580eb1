"""Regenerate the generated parts of README.md: python scripts/update_readme.py

- the rules table, from the registry;
- each benchmark section `<!-- NAME:start -->` ... `<!-- NAME:end -->` listed in GENERATED,
  from what its benchmark script saved in benchmarks/results (`--out`, or the JSON it renders),
  so no figure is typed by hand. tests/test_readme.py checks the README against them.
"""

import importlib.util
import json
import re
from pathlib import Path

from hfcheck.cli import rules_markdown
from hfcheck.registry import all_rules

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RESULTS = ROOT / "benchmarks" / "results"


def _cache_table() -> str:
    spec = importlib.util.spec_from_file_location("cache_monorepo", ROOT / "benchmarks" / "cache_monorepo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render(json.loads((RESULTS / "cache_monorepo.json").read_text(encoding="utf-8")))


# marker name -> the section's text, from the report its benchmark script saved
GENERATED = {
    "run-all": lambda: (RESULTS / "run_all.md").read_text(encoding="utf-8"),
    "cli-startup": lambda: (RESULTS / "cli_startup.md").read_text(encoding="utf-8"),
    "scanners": lambda: (RESULTS / "scanners.md").read_text(encoding="utf-8"),
    "audit-bench": lambda: (RESULTS / "audit_scaling.md").read_text(encoding="utf-8"),
    "cache-bench": _cache_table,
}


def replace_section(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {re.escape(name)}:start -->\n).*?(<!-- {re.escape(name)}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no <!-- {name}:start --> ... <!-- {name}:end --> section")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def main() -> None:
    text = replace_section(README.read_text(encoding="utf-8"), "rules", rules_markdown(all_rules()))
    for name, section in GENERATED.items():
        text = replace_section(text, name, section())
    README.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
