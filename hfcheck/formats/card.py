"""Model card (README.md): YAML front matter and markdown body.

huggingface_hub's RepoCard parses the same block, but gives no line numbers for errors
or keys and costs 0.4 s to import; the block is found here with the Hub's own rule (a
first line `---`, up to the next line `---`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hfcheck.formats.yaml_doc import YamlDoc, parse_yaml

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


@dataclass
class Heading:
    level: int
    text: str
    line: int


@dataclass
class CardDoc:
    text: str
    has_front_matter: bool
    front_matter_closed: bool
    metadata: YamlDoc | None
    body: str
    body_line: int  # line number where the body starts

    @property
    def data(self) -> dict | None:
        """The metadata mapping, or None when absent, invalid or not a mapping."""
        if self.metadata is None or self.metadata.error or not isinstance(self.metadata.data, dict):
            return None
        return self.metadata.data

    def headings(self) -> list[Heading]:
        found = []
        in_fence = False
        for number, line in enumerate(self.body.splitlines(), start=self.body_line):
            if line.lstrip().startswith(("```", "~~~")):
                in_fence = not in_fence
                continue
            match = None if in_fence else _HEADING.match(line)
            if match:
                found.append(Heading(len(match.group(1)), match.group(2), number))
        return found


def parse_card(text: str) -> CardDoc:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return CardDoc(text, False, False, None, text, 1)
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            block = "".join(lines[1:index])
            # line_offset 1: the block's first line is line 2 of the file
            return CardDoc(text, True, True, parse_yaml(block, line_offset=1), "".join(lines[index + 1 :]), index + 2)
    return CardDoc(text, True, False, None, "", len(lines) + 1)
