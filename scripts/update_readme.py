"""Regenerate the rules table in README.md from the registry: python scripts/update_readme.py"""

import re
from pathlib import Path

from hfcheck.cli import rules_markdown
from hfcheck.registry import all_rules

README = Path(__file__).resolve().parent.parent / "README.md"
text = README.read_text(encoding="utf-8")
table = rules_markdown(all_rules())
README.write_text(re.sub(r"(<!-- rules:start -->\n).*?(<!-- rules:end -->)", lambda m: m.group(1) + table + m.group(2), text, flags=re.S), encoding="utf-8")
