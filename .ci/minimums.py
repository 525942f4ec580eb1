"""Print the declared minimum of every core dependency in pyproject.toml as an exact pin
(`huggingface-hub>=1.0` -> `huggingface-hub==1.0`), for the CI step that tests them:
`pip install -c <(python .ci/minimums.py) ...`. Markers are kept, so a dependency for
another Python version does not get installed."""

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def minimums() -> list[str]:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    pins = []
    for dependency in dependencies:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)\s*(;.*)?", dependency)
        if match is None:
            sys.exit(f"{dependency!r}: every core dependency must declare its minimum as 'name>=X' (tested by this CI step)")
        name, version, marker = match.groups()
        pins.append(f"{name}=={version}{' ' + marker if marker else ''}")
    return pins


if __name__ == "__main__":
    print("\n".join(minimums()))
