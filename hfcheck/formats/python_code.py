"""A static scan of Python source for what remote code should never need to do: spawn
processes, open network connections, eval/exec strings, import modules by computed
name, or write outside the working directory. The source is parsed, never imported or
run; a file that does not parse gives an error object, never an exception."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

MAX_SOURCE_CHARS = 4_000_000

# module → what calling into it means
DANGEROUS_MODULES = {
    "subprocess": "process spawning", "pty": "process spawning", "pexpect": "process spawning",
    "socket": "network access", "requests": "network access", "httpx": "network access",
    "urllib.request": "network access", "urllib3": "network access", "http.client": "network access",
    "aiohttp": "network access", "ftplib": "network access", "smtplib": "network access",
    "telnetlib": "network access", "paramiko": "network access", "websocket": "network access",
    "websockets": "network access",
}  # fmt: skip

# fully qualified call → what it does
DANGEROUS_CALLS = {
    "os.system": "process spawning", "os.popen": "process spawning", "os.fork": "process spawning",
    "os.forkpty": "process spawning", "os.posix_spawn": "process spawning", "os.posix_spawnp": "process spawning",
    "eval": "eval/exec", "exec": "eval/exec", "compile": "eval/exec",
    "__import__": "dynamic import", "importlib.import_module": "dynamic import",
    "importlib.__import__": "dynamic import", "importlib.util.spec_from_file_location": "dynamic import",
    "imp.load_source": "dynamic import", "runpy.run_path": "dynamic import", "runpy.run_module": "dynamic import",
    "urllib.request.urlopen": "network access", "urllib.request.urlretrieve": "network access",
    "pickle.loads": "eval/exec", "marshal.loads": "eval/exec",
}  # fmt: skip
PREFIX_CALLS = {"os.exec": "process spawning", "os.spawn": "process spawning"}

WRITE_CALLS = {
    "shutil.copy",
    "shutil.copy2",
    "shutil.copyfile",
    "shutil.move",
    "shutil.rmtree",
    "os.remove",
    "os.unlink",
    "os.rename",
    "os.replace",
    "os.makedirs",
    "os.mkdir",
    "os.chmod",
    "os.symlink",
}
PATH_WRITE_METHODS = {"write_text", "write_bytes", "unlink", "mkdir", "touch", "rename", "replace", "chmod", "rmdir", "symlink_to"}


@dataclass(frozen=True)
class Danger:
    line: int
    kind: str  # "process spawning", "network access", "eval/exec", "dynamic import", "write outside the working directory"
    what: str  # the construct, e.g. "subprocess.run(...)"


@dataclass
class CodeScan:
    dangers: list[Danger] = field(default_factory=list)
    relative_imports: list[str] = field(default_factory=list)  # modules imported with `from .x import`
    relative_names: list[str] = field(default_factory=list)  # names imported with `from . import x`
    error: str | None = None


def _outside_path(node) -> bool:
    """A literal path that leaves the working directory: absolute, ~, or with `..`."""
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        node = node.values[0]
    if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
        return False
    value = node.value.replace("\\", "/")
    return value.startswith(("/", "~")) or value[1:3] == ":/" or value == ".." or value.startswith("../") or "/../" in value


class _Visitor(ast.NodeVisitor):
    def __init__(self, scan: CodeScan):
        self.scan = scan
        self.aliases: dict[str, str] = {}  # local name → qualified name

    def flag(self, node, kind, what):
        self.scan.dangers.append(Danger(getattr(node, "lineno", 0), kind, what))

    # Imports only bind names; what counts is a call through them (a module imported for
    # a type annotation or an availability check is not a danger).
    def visit_Import(self, node):
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:  # `import a.b` binds `a`
                top = alias.name.split(".")[0]
                self.aliases[top] = top

    def visit_ImportFrom(self, node):
        if node.level:
            if node.module:
                self.scan.relative_imports.append(node.module)
            else:  # `from . import x`: x may be a module or a name in __init__
                self.scan.relative_names.extend(a.name for a in node.names)
            return
        for alias in node.names:
            self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def qualified(self, func) -> str | None:
        parts = []
        while isinstance(func, ast.Attribute):
            parts.append(func.attr)
            func = func.value
        if not isinstance(func, ast.Name):
            return None
        parts.append(self.aliases.get(func.id, func.id))
        return ".".join(reversed(parts))

    def visit_Call(self, node):
        name = self.qualified(node.func)
        if name:
            kind = DANGEROUS_CALLS.get(name) or next((k for p, k in PREFIX_CALLS.items() if name.startswith(p)), None)
            kind = kind or next((k for m, k in DANGEROUS_MODULES.items() if name.startswith(m + ".")), None)
            if kind:
                self.flag(node, kind, f"{name}(...)")
            elif name in ("open", "io.open", "builtins.open", "os.open") and node.args and _outside_path(node.args[0]) and _writes(node):
                self.flag(node, "write outside the working directory", f"{name}({ast.unparse(node.args[0])}, ...)")
            elif name in WRITE_CALLS and any(_outside_path(arg) for arg in _written_paths(name, node)):
                self.flag(node, "write outside the working directory", f"{name}(...)")
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in PATH_WRITE_METHODS and isinstance(func.value, ast.Call):
            inner = self.qualified(func.value.func)
            if inner in ("Path", "pathlib.Path") and func.value.args and _outside_path(func.value.args[0]):
                self.flag(node, "write outside the working directory", f"Path({ast.unparse(func.value.args[0])}).{func.attr}(...)")
        self.generic_visit(node)


def _written_paths(name: str, node: ast.Call) -> list:
    """The arguments of a file-system call that name what it changes."""
    if name.startswith("shutil.") and name != "shutil.rmtree":
        return node.args[1:2]  # copy/move: the destination
    return node.args[:1]


def _writes(node: ast.Call) -> bool:
    mode = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg in ("mode", "flags")), None)
    if mode is None:
        return False
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
        return any(c in mode.value for c in "wax+")
    return True  # os.open flags or a computed mode: assume it may write


def parse_python(source: str) -> tuple[ast.Module | None, str | None]:
    """(tree, None), or (None, why not) for source over the size bound or that does not
    parse; never raises (hostile input: null bytes, deep nesting, huge files)."""
    if len(source) > MAX_SOURCE_CHARS:
        return None, f"{len(source)} characters is over the {MAX_SOURCE_CHARS} limit; not scanned"
    try:
        return ast.parse(source), None
    except SyntaxError as error:
        return None, f"does not parse: {error.msg} (line {error.lineno})"
    except (ValueError, RecursionError, MemoryError) as error:
        return None, f"does not parse: {type(error).__name__}"


def scan_source(source: str) -> CodeScan:
    scan = CodeScan()
    tree, scan.error = parse_python(source)
    if tree is None:
        return scan
    try:
        _Visitor(scan).visit(tree)
    except RecursionError:
        scan.error = "nested too deeply to scan"
    scan.dangers.sort(key=lambda d: d.line)
    return scan
