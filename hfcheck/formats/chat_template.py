"""Chat templates judged from Jinja's own AST: the template is parsed by `jinja2`'s
parser (never rendered) and the tree is walked for the ways a template reaches Python
objects outside the data it is given (sandbox escapes), including names hidden by
building strings at render time.

Why Jinja's parser and not regexes: the lexer decodes `'\\x5f\\x5fclass\\x5f\\x5f'`,
`~` and `|join` are tree nodes whose operands can be folded, and `{% raw %}` text or
string literals that only *mention* `__class__` are not attribute accesses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Bounds: a template larger or deeper than this is not judged (and says so).
MAX_TEMPLATE_CHARS = 2 * (1 << 20)
MAX_FOLD_DEPTH = 64
MAX_FOLDED_CHARS = 4096
MAX_NODES = 200_000

# Attribute names that lead from any object to code: the Jinja sandbox refuses every
# name with a leading underscore and these function/frame/generator internals.
UNSAFE_ATTRIBUTES = frozenset(
    {
        "func_globals", "func_code", "func_closure", "func_defaults", "func_dict",
        "f_globals", "f_locals", "f_builtins", "f_back", "f_code",
        "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await",
        "ag_frame", "ag_code", "ag_await", "tb_frame", "tb_next",
        "im_func", "im_self", "im_class", "co_code", "mro",
    }
)  # fmt: skip
# Attribute names that are Python's module and environment reach (as an item key only
# the module names: `roles['system']` is data).
MODULE_REACH = frozenset({"os", "subprocess", "sys", "builtins", "importlib", "modules", "environ"})
MODULE_KEYS = frozenset({"os", "subprocess", "sys", "builtins", "importlib"})
# Methods that run commands or code: flagged when called (`ns.system` may be data).
CODE_CALLS = frozenset(
    {
        "popen", "system", "spawnl", "spawnv", "execl", "execv", "execve", "check_output", "check_call",
        "getoutput", "getstatusoutput", "import_module", "load_module", "eval", "exec", "compile",
    }
)  # fmt: skip
# Names that are Python built-ins (or modules) and never template variables.
PYTHON_NAMES = frozenset(
    {
        "__builtins__", "__import__", "__globals__", "eval", "exec", "compile", "getattr", "setattr",
        "delattr", "globals", "locals", "vars", "open", "os", "subprocess", "sys", "builtins", "importlib",
    }
)  # fmt: skip
# Globals of web frameworks (Flask) that server-side template injection payloads use.
WEB_GLOBALS = frozenset({"request", "config", "url_for", "get_flashed_messages", "session", "self"})
# Jinja's default globals whose functions carry `__globals__` (the classic gadgets);
# their documented API is the only attribute use a template has for them.
GADGETS = {
    "cycler": {"next", "reset", "current", "items"},
    "joiner": set(),
    "lipsum": set(),
    "namespace": set(),
    "range": set(),
    "dict": set(),
}
# Filters whose arguments name attributes (attr, map/select/sort by attribute).
ATTRIBUTE_FILTERS = {
    "attr": 0,
    "map": None,
    "selectattr": 0,
    "rejectattr": 0,
    "sort": None,
    "groupby": 0,
    "sum": None,
    "unique": None,
    "min": None,
    "max": None,
}
STRING_FILTERS = {"lower", "upper", "string", "trim", "reverse", "replace", "join", "format", "capitalize", "title", "first", "last"}


@dataclass(frozen=True)
class TemplateIssue:
    kind: str  # escape | obfuscation | web-global | unreadable
    message: str
    line: int | None = None


@dataclass
class TemplateScan:
    issues: list[TemplateIssue] = field(default_factory=list)

    def add(self, kind: str, message: str, line: int | None) -> None:
        issue = TemplateIssue(kind, message, line)
        if issue not in self.issues:
            self.issues.append(issue)


def is_dangerous_name(name: str, via: str = "attribute") -> bool:
    return name.startswith("_") or name in UNSAFE_ATTRIBUTES or name in (MODULE_REACH if via == "attribute" else MODULE_KEYS)


def _environment():
    """Jinja environment with the tags transformers enables (loop controls, the
    `{% generation %}` block) and `do`, which llama.cpp-style renderers accept."""
    import jinja2
    from jinja2 import nodes
    from jinja2.ext import Extension

    class GenerationBlock(Extension):
        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.Scope(body, lineno=lineno)

    return jinja2.Environment(extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do", GenerationBlock])


def scan_template(source: str) -> TemplateScan:
    """Parse `source` and report every sandbox escape, obfuscated name and web-framework
    global in it; a template that cannot be parsed or is over a bound says so."""
    scan = TemplateScan()
    if len(source) > MAX_TEMPLATE_CHARS:
        scan.add("unreadable", f"template of {len(source)} characters is over the {MAX_TEMPLATE_CHARS} limit; not checked", None)
        return scan
    import jinja2

    try:
        tree = _environment().parse(source)
    except jinja2.TemplateSyntaxError as error:
        scan.add("unreadable", f"Jinja cannot parse the template: {error.message}", error.lineno)
        return scan
    except RecursionError:
        scan.add("unreadable", "the template nests too deeply for Jinja's parser; not checked", None)
        return scan
    _Walker(scan).walk(tree)
    return scan


class _Walker:
    def __init__(self, scan: TemplateScan):
        self.scan = scan
        # constant strings a `{% set name = ... %}` may hold, for names used as keys
        self.assigned: dict[str, set[str]] = {}
        self.stored: set[str] = set()

    def walk(self, tree) -> None:
        from jinja2 import nodes

        everything = []
        stack = [tree]
        while stack:
            node = stack.pop()
            everything.append(node)
            if len(everything) > MAX_NODES:
                self.scan.add("unreadable", f"template has more than {MAX_NODES} syntax nodes; not checked past them", None)
                break
            stack.extend(node.iter_child_nodes())
        self.stored = {node.name for node in everything if isinstance(node, nodes.Name) and node.ctx in ("store", "param")}
        for node in everything:  # assignments first: a key may be set after its use in tree order
            if isinstance(node, nodes.Assign) and isinstance(node.target, nodes.Name):
                value = self.fold(node.node)
                if value is not None:
                    self.assigned.setdefault(node.target.name, set()).add(value)
        for node in everything:
            self.visit(node, nodes)

    # -- one node --------------------------------------------------------------

    def visit(self, node, nodes) -> None:
        line = getattr(node, "lineno", None)
        if isinstance(node, nodes.Getattr):
            self.attribute(node.attr, node.node, line, nodes)
        elif isinstance(node, nodes.Getitem):
            for key in self.key_values(node.arg, nodes):
                self.attribute(key, node.node, line, nodes, via="item")
        elif isinstance(node, nodes.Name) and node.ctx == "load":
            self.name(node.name, line)
        elif isinstance(node, nodes.Filter) and node.name in ATTRIBUTE_FILTERS:
            self.attribute_filter(node, line, nodes)
        elif isinstance(node, nodes.Call):
            self.call(node, line, nodes)
        elif isinstance(node, (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
            tag = type(node).__name__.lower().replace("fromimport", "from-import")
            self.scan.add(
                "escape", f"{{% {tag} %}} loads another template from the renderer's template loader (files outside the model)", line
            )
        if isinstance(node, (nodes.Concat, nodes.Add, nodes.Mod, nodes.Filter, nodes.Call)):
            built = self.fold(node)
            hidden = _hidden_name(built) if built is not None else None
            if hidden is not None:
                self.scan.add("obfuscation", f"builds the string {built[:80]!r} from pieces, spelling the Python name {hidden!r}", line)

    def name(self, name: str, line) -> None:
        if name in self.stored:  # the template's own variable, whatever its name
            return
        if name in PYTHON_NAMES or name.startswith("__"):
            self.scan.add("escape", f"uses the Python name {name!r}, which no chat template needs: it only exists to reach code", line)
        elif name in WEB_GLOBALS:
            self.scan.add(
                "web-global",
                f"uses {name!r}, a web-framework global used by template-injection payloads (chat templates are never given it)",
                line,
            )

    def attribute(self, attr: str, base, line, nodes, via: str = "attribute") -> None:
        if is_dangerous_name(attr, via):
            self.scan.add(
                "escape",
                f"reads the {via} {attr!r}{_of(base, nodes)}: a walk from template data to Python internals (sandbox escape)",
                line,
            )
        elif isinstance(base, nodes.Name) and base.name in GADGETS and attr not in GADGETS[base.name]:
            self.scan.add("escape", f"reads {attr!r} of Jinja's global {base.name!r}, a known gadget for reaching Python globals", line)

    def attribute_filter(self, node, line, nodes) -> None:
        names = [kw.value for kw in node.kwargs if kw.key == "attribute"]
        if node.name in ("attr", "selectattr", "rejectattr", "groupby") and node.args:
            names.append(node.args[0])
        elif node.name == "map" and len(node.args) >= 2 and self.fold(node.args[0]) == "attr":
            names.append(node.args[1])
        for argument in names:
            if isinstance(argument, nodes.Const) and not isinstance(argument.value, str):
                continue
            values = self.key_values(argument, nodes)
            if not values:
                self.scan.add(
                    "obfuscation",
                    f"|{node.name}() with an attribute name computed at render time: what it reaches cannot be known without rendering",
                    line,
                )
            for value in values:
                for part in value.split("."):
                    if is_dangerous_name(part):
                        self.scan.add(
                            "escape",
                            f"|{node.name}({value!r}) reads the attribute {part!r}: a walk to Python internals (sandbox escape)",
                            line,
                        )

    def call(self, node, line, nodes) -> None:
        callee = node.node
        if isinstance(callee, nodes.Getattr) and callee.attr in CODE_CALLS:
            self.scan.add("escape", f"calls {callee.attr!r}{_of(callee.node, nodes)}: a method that runs commands or code", line)
        if (
            isinstance(callee, nodes.Getattr)
            and callee.attr == "format"
            and isinstance(callee.node, nodes.Const)
            and isinstance(callee.node.value, str)
        ):
            if _format_reaches_attributes(callee.node.value):
                self.scan.add(
                    "escape", f"format string {callee.node.value[:60]!r} reads attributes of its arguments (str.format escape)", line
                )
        if isinstance(callee, nodes.Name) and callee.name == "getattr" and len(node.args) >= 2:
            for value in self.key_values(node.args[1], nodes):
                self.attribute(value, node.args[0], line, nodes)

    # -- constant folding --------------------------------------------------------

    def key_values(self, node, nodes) -> set[str]:
        """The strings a key or attribute-name expression can be: a constant, a folded
        expression, or a name `{% set %}` to constants; empty when computed."""
        if isinstance(node, nodes.Name) and node.name in self.assigned:
            return self.assigned[node.name]
        value = self.fold(node)
        return {value} if value is not None else set()

    def fold(self, node, depth: int = 0):
        """The constant string an expression evaluates to, or None."""
        if depth > MAX_FOLD_DEPTH:
            return None
        from jinja2 import nodes

        value = self._fold(node, depth + 1, nodes)
        if isinstance(value, str) and len(value) <= MAX_FOLDED_CHARS:
            return value
        return None

    def _fold(self, node, depth, nodes):
        if isinstance(node, nodes.Const):
            return node.value if isinstance(node.value, (str, int)) and not isinstance(node.value, bool) else None
        if isinstance(node, nodes.Name):
            values = self.assigned.get(node.name)
            return next(iter(values)) if values and len(values) == 1 else None
        if isinstance(node, nodes.Concat):
            parts = [self._fold_str(child, depth) for child in node.nodes]
            return None if None in parts else "".join(parts)
        if isinstance(node, nodes.Add):
            left, right = self._fold_str(node.left, depth), self._fold_str(node.right, depth)
            return None if left is None or right is None else left + right
        if isinstance(node, nodes.Mod):
            return self._percent(node, depth, nodes)
        if isinstance(node, (nodes.List, nodes.Tuple)):
            return None
        if isinstance(node, nodes.Filter):
            return self._filter(node, depth, nodes)
        if isinstance(node, nodes.Call):
            return self._call(node, depth, nodes)
        return None

    def _fold_str(self, node, depth):
        value = self.fold(node, depth)
        if value is None:
            from jinja2 import nodes

            if isinstance(node, nodes.Const) and isinstance(node.value, int) and not isinstance(node.value, bool):
                return str(node.value)
            if isinstance(node, (nodes.Call, nodes.Filter)):
                # chr(95) and friends fold to one character
                char = self._fold(node, depth, nodes)
                return char if isinstance(char, str) else None
        return value

    def _items(self, node, depth, nodes):
        if isinstance(node, (nodes.List, nodes.Tuple)):
            items = [self._fold_str(item, depth) for item in node.items]
            return None if None in items else items
        value = self.fold(node, depth)
        return list(value) if value is not None else None

    def _percent(self, node, depth, nodes):
        template = self.fold(node.left, depth)
        if template is None:
            return None
        if isinstance(node.right, (nodes.List, nodes.Tuple)):
            args = [self._const(item, depth, nodes) for item in node.right.items]
        else:
            args = [self._const(node.right, depth, nodes)]
        if any(arg is None for arg in args):
            return None
        try:
            return template % tuple(args)
        except (TypeError, ValueError, OverflowError):
            return None

    def _const(self, node, depth, nodes):
        if isinstance(node, nodes.Const) and isinstance(node.value, (int, str)):
            return node.value
        return self.fold(node, depth)

    def _filter(self, node, depth, nodes):
        if node.name not in STRING_FILTERS or node.node is None:
            return None
        if node.name == "join":
            items = self._items(node.node, depth, nodes)
            separator = self.fold(node.args[0], depth) if node.args else ""
            return None if items is None or separator is None else separator.join(items)
        if node.name in ("first", "last"):
            items = self._items(node.node, depth, nodes)
            return (items[0] if node.name == "first" else items[-1]) if items else None
        value = self._fold_str(node.node, depth)
        if value is None:
            return None
        if node.name == "replace" and len(node.args) >= 2:
            old, new = self.fold(node.args[0], depth), self.fold(node.args[1], depth)
            return None if old is None or new is None else value.replace(old, new)
        if node.name == "format":
            args = [self._const(arg, depth, nodes) for arg in node.args]
            return None if None in args else _safe_percent(value, args)
        simple = {
            "lower": str.lower,
            "upper": str.upper,
            "string": str,
            "trim": str.strip,
            "reverse": lambda s: s[::-1],
            "capitalize": str.capitalize,
            "title": str.title,
        }
        return simple[node.name](value) if node.name in simple else None

    def _call(self, node, depth, nodes):
        callee = node.node
        if isinstance(callee, nodes.Name) and callee.name == "chr" and len(node.args) == 1:
            code = node.args[0].value if isinstance(node.args[0], nodes.Const) else None
            return chr(code) if isinstance(code, int) and 0 <= code < 0x110000 else None
        if not isinstance(callee, nodes.Getattr):
            return None
        base = self.fold(callee.node, depth)
        if base is None:
            return None
        if callee.attr == "join" and len(node.args) == 1:
            items = self._items(node.args[0], depth, nodes)
            return None if items is None else base.join(items)
        if callee.attr == "format":
            args = [self._const(arg, depth, nodes) for arg in node.args]
            if None in args or _format_reaches_attributes(base):
                return None
            try:
                return base.format(*args)
            except (IndexError, KeyError, ValueError):
                return None
        if callee.attr == "replace" and len(node.args) == 2:
            old, new = self.fold(node.args[0], depth), self.fold(node.args[1], depth)
            return None if old is None or new is None else base.replace(old, new)
        if callee.attr in ("lower", "upper", "strip", "title", "capitalize") and not node.args:
            return getattr(base, callee.attr)()
        return None


def _safe_percent(template: str, args: list):
    try:
        return template % tuple(args)
    except (TypeError, ValueError, OverflowError):
        return None


def _format_reaches_attributes(template: str) -> bool:
    """`'{0.__class__}'.format(x)` reads attributes inside str.format, past the sandbox's
    attribute checks in unsandboxed renderers."""
    import string

    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    except ValueError:
        return False
    return any("." in name or "[" in name for name in fields)


def _hidden_name(value: str) -> str | None:
    """The dangerous Python name a built string spells, if any."""
    for piece in value.replace("[", ".").replace("]", ".").replace("(", ".").split("."):
        piece = piece.strip("'\" ")
        if (
            (piece.startswith("__") and piece.endswith("__") and len(piece) > 4)
            or piece in UNSAFE_ATTRIBUTES
            or piece in MODULE_KEYS
            or piece == "popen"
        ):
            return piece
    return None


def _of(base, nodes) -> str:
    if isinstance(base, nodes.Name):
        return f" of {base.name!r}"
    if isinstance(base, nodes.Const):
        return f" of the literal {base.value!r}"[:60]
    return ""
