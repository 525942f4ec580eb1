"""Commands and environment from Dockerfiles, shell scripts and .env files, with line
numbers: enough to see `pip install`, `vllm serve`, `text-generation-launcher` and the
variables the serving images read. Nothing is executed; variables are not expanded
except from assignments in the same file."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

MAX_LINES = 20_000
_ASSIGN = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


@dataclass(frozen=True)
class Command:
    words: list  # argv of one simple command
    line: int


@dataclass
class ShellDoc:
    commands: list[Command] = field(default_factory=list)
    env: dict = field(default_factory=dict)  # NAME -> (value, line)


def _split(text: str) -> list[str] | None:
    try:
        return shlex.split(text, comments=True, posix=True)
    except ValueError:  # unbalanced quotes
        return text.split()


def _simple_commands(text: str, line: int, env: dict) -> list[Command]:
    """Split a command line on &&, ||, ;, | into simple commands (quotes respected)."""
    words = _split(text) or []
    out, current = [], []
    for word in words:
        if word in ("&&", "||", ";", "|", "&") or word.endswith(";") and len(word) > 1 and not word.startswith("'"):
            if word.endswith(";") and word not in (";",):
                current.append(word[:-1])
            if current:
                out.append(current)
            current = []
        else:
            current.append(word)
    if current:
        out.append(current)
    commands = []
    for argv in out:
        # leading VAR=value assignments set the environment of the command (and we keep them)
        while argv and _ASSIGN.match(argv[0]):
            name, value = _ASSIGN.match(argv[0]).groups()
            env.setdefault(name, (value, line))
            argv = argv[1:]
        if argv and argv[0] == "export":
            for item in argv[1:]:
                match = _ASSIGN.match(item)
                if match:
                    env[match.group(1)] = (match.group(2), line)
            continue
        if argv:
            commands.append(Command([_expand(w, env) for w in argv], line))
    return commands


def _expand(word: str, env: dict) -> str:
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)", lambda m: _sub(m, env), word)


def _sub(match, env):
    name = match.group(1) or match.group(3)
    if name in env:
        return env[name][0]
    if match.group(2) is not None:
        return match.group(2)
    return match.group(0)


def _joined_lines(text: str):
    pending, start = "", None
    for number, line in enumerate(text.splitlines()[:MAX_LINES], 1):
        if start is None:
            start = number
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        yield start, pending + line
        pending, start = "", None
    if pending:
        yield start, pending


def parse_shell(text: str) -> ShellDoc:
    doc = ShellDoc()
    for number, line in _joined_lines(text):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        doc.commands.extend(_simple_commands(line, number, doc.env))
    return doc


def parse_env_file(text: str) -> ShellDoc:
    """A docker/.env file: NAME=value per line (optionally `export`, quotes stripped)."""
    doc = ShellDoc()
    for number, line in enumerate(text.splitlines()[:MAX_LINES], 1):
        match = _ASSIGN.match(line.strip())
        if match:
            value = match.group(2).strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            else:
                value = re.sub(r"\s+#.*$", "", value)
            doc.env[match.group(1)] = (value, number)
    return doc


def parse_dockerfile(text: str) -> ShellDoc:
    """RUN lines (shell or JSON form), ENV/ARG defaults, CMD and ENTRYPOINT (joined)."""
    doc = ShellDoc()
    entrypoint: tuple[list, int] | None = None
    cmd: tuple[list, int] | None = None
    for number, line in _joined_lines(text):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        instruction, _, rest = stripped.partition(" ")
        instruction = instruction.upper()
        rest = rest.strip()
        if instruction in ("ENV", "ARG"):
            _docker_env(rest, number, doc.env, instruction == "ARG")
        elif instruction == "RUN":
            rest = re.sub(r"^(--[a-z]+=\S+\s+)+", "", rest)  # RUN --mount=... flags
            words = _json_form(rest)
            if words is not None:
                doc.commands.append(Command([_expand(w, doc.env) for w in words], number))
            else:
                doc.commands.extend(_simple_commands(rest, number, doc.env))
        elif instruction in ("CMD", "ENTRYPOINT"):
            words = _json_form(rest)
            if words is None:
                words = _split(rest) or []
            words = [_expand(w, doc.env) for w in words]
            if instruction == "CMD":
                cmd = (words, number)
            else:
                entrypoint = (words, number)
    if entrypoint or cmd:
        words = (entrypoint[0] if entrypoint else []) + (cmd[0] if cmd else [])
        line = (cmd or entrypoint)[1]
        if words and words[:2] in (["/bin/sh", "-c"], ["sh", "-c"], ["bash", "-c"]) and len(words) > 2:
            doc.commands.extend(_simple_commands(" ".join(words[2:]), line, doc.env))
        elif words:
            doc.commands.append(Command(words, line))
    return doc


def _json_form(rest: str) -> list | None:
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    return [str(v) for v in value] if isinstance(value, list) else None


def _docker_env(rest: str, line: int, env: dict, is_arg: bool) -> None:
    words = _split(rest) or []
    if len(words) >= 2 and "=" not in words[0]:  # legacy `ENV NAME value`
        env[words[0]] = (_expand(" ".join(words[1:]), env), line)
        return
    for word in words:
        name, eq, value = word.partition("=")
        if eq and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            if not (is_arg and name in env):
                env[name] = (_expand(value, env), line)
