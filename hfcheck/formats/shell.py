"""Commands and environment from Dockerfiles, shell scripts and .env files, with line
numbers: enough to see `pip install`, `vllm serve`, `text-generation-launcher` and the
variables the serving images read. Nothing is executed; variables are expanded only
from assignments in the same file and from their own defaults (`${X:-default}`,
`${1:-default}`: a positional parameter is never set in a static reading)."""

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
class Stage:
    """One image of a Dockerfile (a multi-stage build has several): its base image, its
    own environment and commands, and what the container runs (ENTRYPOINT + CMD)."""

    image: str  # the FROM reference, `${ARG}`s expanded
    line: int
    name: str | None = None  # `FROM x AS name`
    env: dict = field(default_factory=dict)
    commands: list[Command] = field(default_factory=list)
    runs: Command | None = None  # ENTRYPOINT + CMD, as one argv
    entrypoint: tuple | None = None  # (words, line)
    cmd: tuple | None = None


@dataclass
class ShellDoc:
    commands: list[Command] = field(default_factory=list)
    env: dict = field(default_factory=dict)  # NAME -> (value, line)
    stages: list[Stage] = field(default_factory=list)  # Dockerfiles only


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
            env[name] = (_expand(value, env), line)
            argv = argv[1:]
        if argv and argv[0] == "export":
            for item in argv[1:]:
                match = _ASSIGN.match(item)
                if match:
                    env[match.group(1)] = (_expand(match.group(2), env), line)
            continue
        if argv:
            commands.append(Command([_expand(w, env) for w in argv], line))
    return commands


_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*|[0-9]+)(?::?[-=]([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def _expand(word: str, env: dict) -> str:
    return _REFERENCE.sub(lambda m: _sub(m, env), word)


def _sub(match, env):
    name = match.group(1) or match.group(3)
    if name in env:
        return env[name][0]
    if match.group(2) is not None:
        return match.group(2)
    return match.group(0)


def _joined_lines(text: str, dockerfile: bool = False):
    pending, start = "", None
    for number, line in enumerate(text.splitlines()[:MAX_LINES], 1):
        if dockerfile and pending and line.lstrip().startswith("#"):
            continue  # Docker drops comment lines inside a continued instruction
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


def parse_shell(text: str, env: dict | None = None) -> ShellDoc:
    """Commands of a shell script; `env` (NAME -> (value, line)): variables set before it runs."""
    doc = ShellDoc(env=dict(env or {}))
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


_HEREDOC = re.compile(r"<<(-?)[\"']?([A-Za-z_][A-Za-z0-9_]*)[\"']?")
_SHELL_C = (
    ["/bin/sh", "-c"],
    ["sh", "-c"],
    ["bash", "-c"],
    ["/bin/bash", "-c"],
    ["sh", "-ec"],
    ["bash", "-ec"],
    ["/bin/bash", "-ec"],
    ["bash", "-lc"],
    ["/bin/bash", "-lc"],
)


def _dockerfile_instructions(text: str):
    """(line, instruction text) with continuations joined and BuildKit heredocs
    (`RUN <<EOF ... EOF`) expanded into their lines, each with its own line number."""
    lines = iter(_joined_lines(text, dockerfile=True))
    for number, line in lines:
        heredoc = _HEREDOC.search(line) if line.lstrip().upper().startswith("RUN") else None
        if heredoc is None:
            yield number, line
            continue
        yield number, line[: heredoc.start()] + line[heredoc.end() :]
        terminator = heredoc.group(2)
        for body_number, body in lines:
            if body.strip() == terminator:
                break
            yield body_number, "RUN " + body


def parse_dockerfile(text: str) -> ShellDoc:
    """RUN lines (shell or JSON form, heredocs), ENV/ARG defaults, CMD and ENTRYPOINT,
    per build stage (each `FROM` starts an image of its own)."""
    doc = ShellDoc()
    global_args: dict = {}
    stage = None
    for number, line in _dockerfile_instructions(text):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        instruction, _, rest = stripped.partition(" ")
        instruction = instruction.upper()
        rest = rest.strip()
        if instruction == "FROM":
            stage = _new_stage(rest, number, doc.stages, global_args)
            doc.stages.append(stage)
            continue
        if stage is None and instruction != "ARG":  # a fragment without FROM: one image
            stage = Stage("", number, env=dict(global_args))
            doc.stages.append(stage)
        env = stage.env if stage is not None else global_args
        if instruction in ("ENV", "ARG"):
            _docker_env(rest, number, env, instruction == "ARG")
        elif instruction == "RUN":
            rest = re.sub(r"^(--[a-z]+=\S+\s+)+", "", rest)  # RUN --mount=... flags
            words = exec_form(rest)
            if words is not None:
                stage.commands.append(Command([_expand(w, env) for w in words], number))
            elif rest:
                stage.commands.extend(_simple_commands(rest, number, env))
        elif instruction in ("CMD", "ENTRYPOINT"):
            words = exec_form(rest)
            words = [_expand(w, env) for w in (words if words is not None else _split(rest) or [])]
            _set_runs(stage, instruction, words, number)
    for stage in doc.stages:
        doc.commands.extend(stage.commands)
        if stage.runs is not None:
            doc.commands.extend(_run_commands(stage))
        doc.env.update(stage.env)
    if not doc.stages:
        doc.env.update(global_args)
    return doc


def _new_stage(rest: str, line: int, stages: list, global_args: dict) -> Stage:
    words = [w for w in (_split(rest) or []) if not w.startswith("--platform")]
    image = _expand(words[0], global_args) if words else ""
    name = words[2] if len(words) > 2 and words[1].lower() == "as" else None
    parent = next((s for s in stages if s.name and s.name == image), None)
    stage = Stage(image, line, name)
    if parent is not None:  # FROM an earlier stage inherits its environment and command
        stage.image, stage.env, stage.runs = parent.image, dict(parent.env), parent.runs
        stage.entrypoint, stage.cmd = parent.entrypoint, parent.cmd
    return stage


def _set_runs(stage: Stage, instruction: str, words: list, line: int) -> None:
    if instruction == "CMD":
        stage.cmd = (words, line)
    else:
        stage.entrypoint = (words, line)
        stage.cmd = None  # a new ENTRYPOINT resets an inherited CMD
    entrypoint, cmd = stage.entrypoint, stage.cmd
    joined = (entrypoint[0] if entrypoint else []) + (cmd[0] if cmd else [])
    stage.runs = Command(joined, (cmd or entrypoint)[1]) if joined else None


def _run_commands(stage: Stage) -> list[Command]:
    words = stage.runs.words
    if len(words) > 2 and (
        words[:2] in _SHELL_C or words[0].rsplit("/", 1)[-1] in ("sh", "bash") and re.fullmatch(r"-[a-z]*c[a-z]*", words[1])
    ):
        return _simple_commands(" ".join(words[2:]), stage.runs.line, dict(stage.env))
    return [stage.runs]


def exec_form(rest: str) -> list | None:
    """A Dockerfile instruction's JSON ("exec") form, `["python", "serve.py"]`, as words."""
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
