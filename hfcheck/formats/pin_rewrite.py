"""Targeted text edits that pin one dependency to `==version` where it is declared:
requirement files, pyproject.toml (PEP 621 strings, Poetry tables), Pipfile, setup.cfg,
environment.yml and `pip install` words in Dockerfiles and shell scripts.

Each function takes a file's text and the 1-based line the parsers report, changes only
the specifier text of that one requirement and returns the new text; every other byte
(extras, markers, comments, quotes, line endings, other lines) stays as it was. Files are
never re-serialised. A form that cannot be rewritten safely raises PinError with the
reason; the caller re-parses the result to check it."""

from __future__ import annotations

import re

from hfcheck.formats.requirements import canonical


class PinError(ValueError):
    """This declaration cannot be rewritten safely (the message says why)."""


_NAME = re.compile(r"(\s*)([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(\s*\[[^\]]*\])?")


def pin_requirement(text: str, name: str, version: str) -> str:
    """One PEP 508 requirement (`name[extras] spec ; marker`) with its version specifier
    replaced by `==version`; the extras, the marker and surrounding whitespace are kept."""
    from packaging.requirements import InvalidRequirement, Requirement

    match = _NAME.match(text)
    if not match or canonical(match.group(2)) != name:
        raise PinError(f"the requirement {text.strip()!r} does not start with {name}")
    rest = text[match.end() :]
    spec, semicolon, marker = rest.partition(";")
    if "@" in spec or "://" in spec:
        raise PinError("a direct reference (URL or path): pin a commit sha or a released version by hand")
    kept = spec[len(spec.rstrip()) :]  # the whitespace before a marker or comment
    new = text[: match.end()] + "==" + version + kept + semicolon + marker
    try:
        old_req, new_req = Requirement(text.strip()), Requirement(new.strip())
    except InvalidRequirement as error:
        raise PinError(f"the requirement does not parse: {error}") from None
    if (old_req.extras, str(old_req.marker)) != (new_req.extras, str(new_req.marker)):
        raise PinError("rewriting the specifier would change the extras or the marker")
    return new


def _lines(text: str) -> list[str]:
    # the parsers number lines with str.splitlines(); keepends keeps each line's ending
    return text.splitlines(keepends=True)


def _body(line: str) -> tuple[str, str]:
    """A physical line split into its content and its line ending."""
    content = line.rstrip("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
    return content, line[len(content) :]


def _line(lines: list[str], number: int | None) -> tuple[str, str]:
    if number is None or not 1 <= number <= len(lines):
        raise PinError("the declaration's line is not known")
    return _body(lines[number - 1])


def _replace_line(lines: list[str], number: int, content: str, ending: str) -> str:
    return "".join(lines[: number - 1] + [content + ending] + lines[number:])


# -- requirement files (also the install_requires lines of setup.cfg) -----------------


def pin_in_requirements(text: str, line: int | None, name: str, version: str) -> str:
    """requirements*.txt / constraints*.txt: the requirement on `line` (options such as
    --hash, a trailing comment and a continuation backslash are kept)."""
    lines = _lines(text)
    content, ending = _line(lines, line)
    stripped = content.lstrip()
    if stripped.startswith(("-e ", "--editable")):
        raise PinError("an editable install (a path or URL): pin it by hand")
    if stripped.startswith("-"):
        raise PinError("the line is a pip option, not a requirement")
    cut = len(content)
    for pattern in (r"\s#", r"\s--?[a-zA-Z]"):
        found = re.search(pattern, content)
        if found:
            cut = min(cut, found.start())
    continued = content.rstrip().endswith("\\")
    if continued and cut == len(content):
        cut = content.rstrip().rfind("\\")
        following = _body(lines[line])[0].strip() if line < len(lines) else ""
        if following and not following.startswith(("-", "#")):
            raise PinError("the requirement continues on the next line: pin it by hand")
    segment = content[:cut]
    return _replace_line(lines, line, pin_requirement(segment, name, version) + content[cut:], ending)


def pin_in_setup_cfg(text: str, line: int | None, item: str, name: str, version: str) -> str:
    """setup.cfg `install_requires`: the item on `line` (alone or after `install_requires =`)."""
    lines = _lines(text)
    content, ending = _line(lines, line)
    start = content.find(item)
    if start < 0 or content.find(item, start + 1) >= 0:
        raise PinError(f"{item!r} is not found exactly once on its line")
    pinned = pin_requirement(item, name, version)
    return _replace_line(lines, line, content[:start] + pinned + content[start + len(item) :], ending)


# -- TOML: PEP 621 strings, Poetry and Pipfile tables --------------------------------

_TOML_STRING = r"\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'"


def pin_in_pep621(text: str, line: int | None, item: str, name: str, version: str) -> str:
    """A `[project] dependencies` string on `line` (a literal or basic string without escapes)."""
    lines = _lines(text)
    content, ending = _line(lines, line)
    hits = [(m.start(), m.end()) for m in re.finditer(_TOML_STRING, content) if m.group(0)[1:-1] == item]
    if len(hits) != 1:
        raise PinError(f"the string {item!r} is not found exactly once on its line (escapes or a multi-line string)")
    start, end = hits[0]
    pinned = pin_requirement(item, name, version)
    return _replace_line(lines, line, content[: start + 1] + pinned + content[end - 1 :], ending)


def pin_in_toml_table(text: str, line: int | None, name: str, exact: str) -> str:
    """A `name = "spec"` or `name = {version = "spec", ...}` entry (Poetry, Pipfile) on
    `line`: the version string becomes `exact` ("4.46.0" for Poetry, "==4.46.0" for Pipfile)."""
    lines = _lines(text)
    content, ending = _line(lines, line)
    entry = re.match(r"\s*([\"']?)([A-Za-z0-9][A-Za-z0-9._-]*)\1\s*=\s*", content)
    if not entry or canonical(entry.group(2)) != name:
        raise PinError(f"no `{name} = ...` entry on the line")
    value = content[entry.end() :]
    string = re.match(_TOML_STRING, value)
    if string:
        start, end = entry.end() + string.start(), entry.end() + string.end()
    elif value.startswith("{"):
        versions = list(re.finditer(rf"(?:^|[{{,\s])version\s*=\s*({_TOML_STRING})", value))
        if len(versions) != 1:
            raise PinError('the inline table has no single `version = "..."` (a git, path or URL dependency?)')
        start, end = entry.end() + versions[0].start(1), entry.end() + versions[0].end(1)
    else:
        raise PinError("the value is not a string or an inline table on one line (a list of constraints?): pin it by hand")
    # inside the quotes: a literal or basic string, `exact` needs no escaping in either
    return _replace_line(lines, line, content[: start + 1] + exact + content[end - 1 :], ending)


# -- environment.yml -----------------------------------------------------------------


def pin_in_environment_yml(text: str, line: int | None, name: str, version: str) -> str:
    """A `- spec` list item (conda or pip) on `line`: the spec becomes `[channel::]name==version`
    (exact in both conda and pip), extras and markers of pip items kept."""
    lines = _lines(text)
    content, ending = _line(lines, line)
    item = re.match(r"(\s*-\s+)([\"']?)(.*?)\2(\s*(?:\s#.*)?)$", content)
    if not item or not item.group(3):
        raise PinError("no `- spec` list item on the line")
    spec = item.group(3)
    if item.group(2) == '"' and "\\" in spec:
        raise PinError("a YAML string with escapes: pin it by hand")
    channel = re.match(r"[A-Za-z0-9_./-]+::", spec)
    prefix = channel.group(0) if channel else ""
    rest = spec[len(prefix) :]
    if "[" in rest and re.search(r"\[\s*\w+\s*=", rest):
        raise PinError("a conda bracket spec: pin it by hand")
    if "@" in rest or "://" in rest:
        raise PinError("a direct reference (URL or path): pin a commit sha or a released version by hand")
    if re.match(r"[A-Za-z0-9._-]+\s+[\d*]\S*\s+\S+", rest):
        raise PinError("a conda spec with a build string: pin it by hand")
    if ";" in rest or "[" in rest:  # a pip item with a marker or extras
        pinned = prefix + pin_requirement(rest, name, version)
    else:  # a conda match spec (`name=4.40.*`, `name >=4.40`) or a plain pip one: all of it is name and version
        written = _NAME.match(rest)
        if not written or canonical(written.group(2)) != name or not re.fullmatch(r"\s*[=<>!~]*\s*[\w.*+!,<>=~ ]*", rest[written.end() :]):
            raise PinError(f"{spec!r} is not a `{name}` version spec hfcheck can rewrite: pin it by hand")
        pinned = prefix + written.group(2) + "==" + version
    start, end = item.start(3), item.end(3)
    return _replace_line(lines, line, content[:start] + pinned + content[end:], ending)


# -- `pip install` words in Dockerfiles and shell scripts -----------------------------


def _words(content: str):
    """(start, end, value, plain) of each shell word on one physical line, or None when a
    quote is not closed on it. `plain`: one unquoted run or one quoted string, with no
    expansion ($, backquote) or escape in it; only those are rewritten."""
    words, i, n = [], 0, len(content)
    while i < n:
        char = content[i]
        if char.isspace() or char in ";&|()":
            i += 1
            continue
        if char == "#":
            break
        start, parts, quoted, dynamic = i, [], 0, False
        while i < n and not content[i].isspace() and content[i] not in ";&|()":
            char = content[i]
            if char in "'\"":
                close = content.find(char, i + 1)
                if close < 0:
                    return None
                inner = content[i + 1 : close]
                dynamic = dynamic or (char == '"' and any(c in inner for c in "$`\\"))
                parts.append((inner, char))
                quoted += 1
                i = close + 1
            else:
                dynamic = dynamic or char in "$`\\"
                if parts and parts[-1][1] == "":
                    parts[-1] = (parts[-1][0] + char, "")
                else:
                    parts.append((char, ""))
                i += 1
        value = "".join(p for p, _ in parts)
        words.append((start, i, value, len(parts) == 1 and not dynamic))
    return words


def pin_in_shell(text: str, line: int | None, word: str, name: str, version: str, expected: int = 1) -> str:
    """The `pip install` argument `word` (as the shell sees it) in the command that starts
    on `line` and continues over backslash-ended lines. Refused when the word is built from
    a variable, quoted oddly, or appears a different number of times than `expected`."""
    lines = _lines(text)
    if re.match(r"\s*(RUN|CMD|ENTRYPOINT)\s+\[", _line(lines, line)[0], re.IGNORECASE):
        raise PinError("a Dockerfile instruction in exec (JSON) form: pin it by hand")
    hits, variable, unreadable = [], False, False
    number = line
    while number <= len(lines):
        content, _ending = _body(lines[number - 1])
        words = _words(content.rstrip().removesuffix("\\"))
        if words is None:
            unreadable = True
        for start, end, value, plain in words or ():
            raw = content[start:end]
            if value == word:
                if not plain:
                    raise PinError(f"{raw!r} is quoted or escaped in a way hfcheck does not rewrite: pin it by hand")
                hits.append((number, start, end))
            elif "$" in raw and name in canonical(raw):
                variable = True
        if not content.rstrip().endswith("\\"):
            break
        number += 1
    if not hits:
        if variable:
            raise PinError("the requirement is built from a shell variable: pin it where the variable is set")
        raise PinError(
            "the argument is not found as one word in the command" + (" (a quote spans lines)" if unreadable else "") + ": pin it by hand"
        )
    if len(hits) != expected:
        raise PinError(f"{word!r} appears {len(hits)} times in the command: pin it by hand")
    for number, start, end in reversed(hits):
        content, ending = _body(lines[number - 1])
        raw = content[start:end]
        quote = raw[0] if raw[0] in "'\"" else ""
        pinned = pin_requirement(word, name, version)
        if not quote and re.search(r"[\s;&|()<>'\"$`\\]", pinned):
            raise PinError("the pinned requirement would need quoting in the shell: pin it by hand")
        lines[number - 1] = content[:start] + quote + pinned + quote + content[end:] + ending
    return "".join(lines)
