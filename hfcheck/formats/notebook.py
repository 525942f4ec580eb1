"""Jupyter notebooks: the Python of the code cells (IPython magics and `!` shell lines
blanked so the AST scan can read the rest) and the shell commands of `!pip install` /
`%pip install` lines, each mapped to its line in the .ipynb file. Nothing is executed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

MAX_CELLS = 5_000


@dataclass
class Notebook:
    source: str = ""  # code cells joined, one notebook line per source line
    lines: list = field(default_factory=list)  # source line (1-based index - 1) -> .ipynb line
    shell: list = field(default_factory=list)  # (command text, .ipynb line) of ! and % lines
    error: str | None = None

    def file_line(self, source_line: int) -> int | None:
        return self.lines[source_line - 1] if 0 < source_line <= len(self.lines) else None


def parse_notebook(text: str) -> Notebook:
    book = Notebook()
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        book.error = f"not a notebook (JSON): {error}"
        return book
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        book.error = "no cells"
        return book
    raw_lines = text.splitlines()
    cursor = 0
    out = []
    for cell in cells[:MAX_CELLS]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source")
        lines = source if isinstance(source, list) else str(source or "").splitlines(keepends=True)
        for line in lines:
            if not isinstance(line, str):
                continue
            cursor, file_line = _locate(raw_lines, cursor, line)
            stripped = line.strip()
            magic = re.match(r"^(!|%%?)(.*)$", stripped)
            if magic:
                command = magic.group(2).strip()
                if magic.group(1) == "%" and command.startswith(("pip ", "conda ")) or magic.group(1) == "!":
                    book.shell.append((command if magic.group(1) == "!" else command, file_line))
                indent = line[: len(line) - len(line.lstrip())]
                out.append(indent + "pass")
            else:
                out.append(line.rstrip("\r\n"))
            book.lines.append(file_line)
        out.append("")  # cells are separate blocks
        book.lines.append(None)
    book.source = "\n".join(out)
    return book


def _locate(raw_lines: list, cursor: int, line: str) -> tuple[int, int | None]:
    """The .ipynb line that holds this source line (each is a JSON string on its own
    line in nbformat's layout), searched forward from the last match."""
    needle = json.dumps(line.rstrip("\n"), ensure_ascii=False)[1:-1]
    for index in range(cursor, min(len(raw_lines), cursor + 2_000)):
        if needle and needle in raw_lines[index]:
            return index + 1, index + 1
    return cursor, None
