"""Calls that load a model in Python source, found by AST (the code is never imported):
`<Class>.from_pretrained(...)` (for PeftModel, the adapter id), transformers'
`pipeline(...)` (not any method named pipeline), vLLM's `LLM(...)`/`AsyncEngineArgs(...)`
and SageMaker's `HuggingFaceModel(env=...)`, with the model id and the keyword
arguments that decide how it is deployed. A keyword's value is the literal when it is
one, or a name bound once to a literal in the same module (`os.getenv("X", "default")`
counts as its default); otherwise UNKNOWN."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from hfcheck.formats.python_code import parse_python

UNKNOWN = object()

NOT_MODELS = ("Tokenizer", "TokenizerFast", "Processor", "Config", "FeatureExtractor", "ImageProcessor", "GenerationConfig")


@dataclass(frozen=True)
class CallValue:
    """A call used as a value, e.g. BitsAndBytesConfig(load_in_4bit=True)."""

    name: str
    kwargs: dict
    args: tuple = ()  # positional literals: torch.device("cuda", 3)


@dataclass
class Kwarg:
    value: object  # a Python literal, "torch.float16"-style dotted name, CallValue, or UNKNOWN
    line: int
    entries: dict = field(default_factory=dict)  # dict literal: key -> line of its entry


@dataclass
class ModelLoad:
    line: int
    callee: str  # "AutoModelForCausalLM.from_pretrained", "pipeline"
    is_model: bool  # False for tokenizers, processors and configs
    model: str | None  # the literal model id or path, None when computed
    kwargs: dict = field(default_factory=dict)  # name -> Kwarg

    def value(self, name: str, default=None):
        kwarg = self.kwargs.get(name)
        return default if kwarg is None else kwarg.value

    def line_of(self, name: str) -> int:
        kwarg = self.kwargs.get(name)
        return kwarg.line if kwarg else self.line


@dataclass
class EngineCall:
    """A server or engine built in Python: vLLM's `LLM(...)`/`AsyncEngineArgs(...)`,
    SageMaker's `HuggingFaceModel(env={...})` (with `.deploy(instance_type=...)`)."""

    line: int
    kind: str  # "vllm", "sagemaker"
    kwargs: dict = field(default_factory=dict)  # name -> Kwarg
    instance_type: Kwarg | None = None


@dataclass
class LoadScan:
    loads: list[ModelLoad] = field(default_factory=list)
    moves_to_cuda: list[int] = field(default_factory=list)  # lines of .to("cuda")/.cuda()
    engines: list[EngineCall] = field(default_factory=list)
    error: str | None = None


def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class _Values:
    def __init__(self, tree):
        counts: dict[str, int] = {}
        self.bound: dict[str, ast.AST] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                counts[name] = counts.get(name, 0) + 1
                self.bound[name] = node.value
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
                counts[node.target.id] = counts.get(node.target.id, 0) + 1
                if isinstance(node, ast.AnnAssign) and node.value is not None:
                    self.bound[node.target.id] = node.value
        for name, count in counts.items():
            if count != 1:
                self.bound.pop(name, None)

    def of(self, node, depth: int = 0):
        if depth > 5:
            return UNKNOWN
        if isinstance(node, ast.Name):
            if node.id in ("True", "False", "None"):
                return {"True": True, "False": False, "None": None}[node.id]
            bound = self.bound.get(node.id)
            return UNKNOWN if bound is None else self.of(bound, depth + 1)
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name is None:
                return UNKNOWN
            if name in ("os.getenv", "os.environ.get", "getenv", "environ.get") and len(node.args) == 2:
                return self.of(node.args[1], depth + 1)  # the default: what runs when the variable is unset
            if name in ("json.dumps", "str") and len(node.args) == 1 and not node.keywords:  # SM_NUM_GPUS: json.dumps(4)
                inner = self.of(node.args[0], depth + 1)
                if isinstance(inner, (int, float, str, bool)) and not isinstance(inner, bool) or inner is None:
                    import json

                    return json.dumps(inner) if name == "json.dumps" else str(inner)
            return CallValue(
                name,
                {k.arg: self.of(k.value, depth + 1) for k in node.keywords if k.arg},
                tuple(self.of(a, depth + 1) for a in node.args[:4]),
            )
        if isinstance(node, ast.Attribute):
            return _dotted(node) or UNKNOWN
        if isinstance(node, ast.Dict):
            out = {}
            for key, value in zip(node.keys, node.values):
                key_value = self.of(key, depth + 1) if key is not None else UNKNOWN
                if key_value is UNKNOWN or isinstance(key_value, (dict, list, CallValue)):
                    return UNKNOWN
                out[key_value] = self.of(value, depth + 1)
            return out
        try:
            return ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return UNKNOWN

    def entries(self, node, depth: int = 0) -> dict:
        """key -> line of each entry of a dict literal (or a name bound once to one)."""
        if isinstance(node, ast.Name) and node.id in self.bound and depth < 5:
            return self.entries(self.bound[node.id], depth + 1)
        if not isinstance(node, ast.Dict):
            return {}
        out = {}
        for key in node.keys:
            if isinstance(key, ast.Constant) and isinstance(key.value, (str, int)):
                out[key.value] = key.lineno
        return out


def scan_loads(source: str) -> LoadScan:
    scan = LoadScan()
    tree, scan.error = parse_python(source)
    if tree is None:
        return scan
    try:
        values = _Values(tree)
        transformers_aliases = _module_aliases(tree, "transformers")
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                _visit_call(node, values, scan, transformers_aliases)
        _attach_deploys(tree, values, scan)
    except RecursionError:
        scan.error = "nested too deeply to scan"
    scan.loads.sort(key=lambda load: load.line)
    return scan


def _module_aliases(tree, module: str) -> set:
    """Names under which `import transformers [as t]` binds the module."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.asname or a.name for a in node.names if a.name == module)
    return names


ENGINES = {"LLM": "vllm", "AsyncEngineArgs": "vllm", "EngineArgs": "vllm", "AsyncLLMEngine": "vllm", "HuggingFaceModel": "sagemaker"}
PEFT_LOADERS = ("PeftModel", "PeftModelForCausalLM", "PeftModelForSeq2SeqLM", "PeftModelForSequenceClassification")


def _kwargs(node: ast.Call, values: _Values) -> dict:
    return {k.arg: Kwarg(values.of(k.value), k.value.lineno, values.entries(k.value)) for k in node.keywords if k.arg}


def _attach_deploys(tree, values: _Values, scan: LoadScan) -> None:
    """`model.deploy(instance_type="ml.g5.2xlarge")` after `model = HuggingFaceModel(...)`."""
    sagemaker = [e for e in scan.engines if e.kind == "sagemaker"]
    if not sagemaker:
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "deploy":
            instance = next((k for k in node.keywords if k.arg == "instance_type"), None)
            if instance is not None:
                target = min(sagemaker, key=lambda e: abs(e.line - node.lineno))
                target.instance_type = Kwarg(values.of(instance.value), instance.value.lineno)


def _visit_call(node: ast.Call, values: _Values, scan: LoadScan, transformers_aliases: set = frozenset()) -> None:
    func = node.func
    name = _dotted(func)
    short = name.rsplit(".", 1)[-1] if name else None
    if short == "HuggingFaceModel" and name.startswith("bentoml"):  # bentoml.models.HuggingFaceModel("org/name", revision=...)
        model = (
            values.of(node.args[0])
            if node.args
            else values.of(next((k.value for k in node.keywords if k.arg == "model_id"), ast.Constant(None)))
        )
        scan.loads.append(ModelLoad(node.lineno, name, False, model if isinstance(model, str) else None, _kwargs(node, values)))
        return
    if short in ENGINES and short != "AsyncLLMEngine" and (ENGINES[short] != "vllm" or _vllm_engine_call(node)):
        scan.engines.append(EngineCall(node.lineno, ENGINES[short], _kwargs(node, values)))
        if short == "LLM" and node.args and "model" not in scan.engines[-1].kwargs:
            scan.engines[-1].kwargs["model"] = Kwarg(values.of(node.args[0]), node.args[0].lineno)
        return
    if isinstance(func, ast.Attribute) and func.attr in ("to", "cuda"):
        target = node.args[0] if node.args else None
        if func.attr == "cuda" or (isinstance(target, ast.Constant) and isinstance(target.value, str) and target.value.startswith("cuda")):
            scan.moves_to_cuda.append(node.lineno)
        return
    if isinstance(func, ast.Attribute) and func.attr == "from_pretrained":
        owner = _dotted(func.value) or "?"
        is_model = not owner.split(".")[-1].endswith(NOT_MODELS)
        model_node = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "pretrained_model_name_or_path"), None)
        if owner.split(".")[-1] in PEFT_LOADERS:  # PeftModel.from_pretrained(base_model, "adapter-id")
            is_model = False
            model_node = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "model_id"), None)
    elif name is not None and (name == "pipeline" or name.split(".")[0] in transformers_aliases and name.endswith(".pipeline")):
        owner, is_model = None, True
        model_node = next((k.value for k in node.keywords if k.arg == "model"), node.args[1] if len(node.args) > 1 else None)
    else:
        return
    model = values.of(model_node) if model_node is not None else None
    kwargs = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            continue
        if keyword.arg == "model_kwargs":  # pipeline(model_kwargs={...}) passes them on
            inner = values.of(keyword.value)
            if isinstance(inner, dict):
                for key, value in inner.items():
                    if isinstance(key, str):
                        kwargs.setdefault(key, Kwarg(value, keyword.value.lineno))
            continue
        kwargs[keyword.arg] = Kwarg(values.of(keyword.value), keyword.value.lineno, values.entries(keyword.value))
    callee = f"{owner}.from_pretrained" if owner else "pipeline"
    scan.loads.append(ModelLoad(node.lineno, callee, is_model, model if isinstance(model, str) else None, kwargs))


def _vllm_engine_call(node: ast.Call) -> bool:
    """LLM(...) is vLLM's only with a model: `LLM(model=...)` or `LLM("org/name")`."""
    return any(k.arg == "model" for k in node.keywords) or bool(node.args and isinstance(node.args[0], (ast.Constant, ast.Name)))
