"""The one place that decides what a pickle global means.

    classify(module, name) -> ("allowed" | "dangerous" | "data" | "unknown", reason)

- allowed: what real torch / numpy / joblib / plain-Python checkpoints import. DERIVED
  from benchmarks/pickle_corpus.py: every global that hfcheck.formats.pickle found
  in its benign outputs (torch.save of nn modules' state_dicts, optimizer state_dicts,
  every dtype incl. quantized/complex/float8, sparse, parameters, numpy arrays/scalars,
  joblib dumps, plain data at protocols 0-5; torch 2.13, numpy 2.4, joblib 1.6, both
  torch serialization formats), plus the same helpers under the names older/newer
  releases use (numpy.core vs numpy._core, torch storage/dtype names of other dtypes),
  marked "(variant)". Matching is exact on (module, name): no prefixes, no dotted names.
- dangerous: callables that run code, spawn processes, touch files/network, load other
  pickles, or reach arbitrary attributes (getattr chains, dunders). Matched on module
  prefixes and on every attribute suffix of a protocol-4 dotted name, so
  ("torch", "serialization.os.system") is still os.system.
- data: classes that are harmless to rebuild but are not model weights (training
  arguments, argparse namespaces, dates, paths, enums): worth a warning, not an error.
- harmless (reported as allowed, with the reason): globals judged by what calling or using
  them can do rather than by the corpus. Every name in `builtins` is classified (a test
  checks the classification is total): value types and functions that call nothing they
  are given are harmless; those that call an argument (map, filter, iter, type...), reach
  attributes or touch the outside world are not. Modules that only define types or flags
  (`__future__`, `collections.abc`, `numbers`, typing's special forms) are harmless.
- library: classes of ML libraries whose constructors and __setstate__ only build
  in-memory objects (scikit-learn, OmegaConf, torch.nn modules, ...): a warning that
  names what must be trusted, not an error.
- unknown: everything else, including user classes of whole pickled nn.Modules (the
  facts turn those into a warning when the scan saw them rebuilt as nn.Module objects).

classify_torchscript judges the globals of a TorchScript archive, which torch.jit.load
reads with its C++ unpickler: it never imports Python; it knows a fixed set of names and
resolves the rest as TorchScript classes compiled from the archive's own code/.
"""

from __future__ import annotations

import builtins as _builtins

import _compat_pickle  # stdlib: the py2 -> py3 name maps the unpickler applies

ALLOWED, DANGEROUS, DATA, LIBRARY, UNKNOWN = "allowed", "dangerous", "data", "library", "unknown"

_TORCH_DTYPES = (
    "float32 float float64 double float16 half bfloat16 complex32 chalf complex64 cfloat complex128 cdouble "
    "uint8 uint16 uint32 uint64 int8 int16 short int32 int int64 long bool "
    "float8_e4m3fn float8_e5m2 float8_e4m3fnuz float8_e5m2fnuz float8_e8m0fnu float4_e2m1fn_x2 "
    "qint8 quint8 qint32 quint4x2 quint2x4 bits1x8 bits2x4 bits4x2 bits8 bits16"
).split()
_TORCH_STORAGES = (
    "FloatStorage DoubleStorage HalfStorage BFloat16Storage LongStorage IntStorage ShortStorage CharStorage "
    "ByteStorage BoolStorage ComplexFloatStorage ComplexDoubleStorage QInt8Storage QUInt8Storage QInt32Storage "
    "QUInt4x2Storage QUInt2x4Storage UntypedStorage TypedStorage"
).split()

# (module, name) -> reason. "derived" = seen in the benign corpus; "(variant)" = same
# helper under another release's name.
ALLOWLIST: dict[tuple[str, str], str] = {
    ("collections", "OrderedDict"): "derived: state_dict container",
    ("torch._utils", "_rebuild_tensor_v2"): "derived: tensor rebuild",
    ("torch._utils", "_rebuild_tensor_v3"): "derived: tensor rebuild (dtypes without a typed storage)",
    ("torch._utils", "_rebuild_parameter"): "derived: nn.Parameter rebuild",
    ("torch._utils", "_rebuild_qtensor"): "derived: quantized tensor rebuild",
    ("torch._utils", "_rebuild_sparse_tensor"): "derived: sparse tensor rebuild",
    ("torch._utils", "_rebuild_tensor"): "(variant) old tensor rebuild",
    ("torch._utils", "_rebuild_parameter_with_state"): "(variant) nn.Parameter with extra state",
    ("torch._utils", "_rebuild_from_type_v2"): "(variant) tensor subclass rebuild; its func/type arguments are classified separately",
    ("torch._utils", "_rebuild_nested_tensor"): "(variant) nested tensor rebuild",
    ("torch._utils", "_rebuild_device_tensor_from_numpy"): "(variant) tensor from numpy",
    ("torch._utils", "_rebuild_meta_tensor_no_storage"): "(variant) meta tensor rebuild",
    ("torch._utils", "_rebuild_wrapper_subclass"): "(variant) wrapper subclass rebuild",
    ("torch._tensor", "_rebuild_from_type_v2"): "(variant) tensor subclass rebuild",
    ("torch.nn.parameter", "Parameter"): "(variant) nn.Parameter type for _rebuild_from_type_v2",
    ("torch.serialization", "_get_layout"): "derived: sparse layout lookup by name",
    ("torch.storage", "UntypedStorage"): "derived: storage class",
    ("torch.storage", "TypedStorage"): "(variant) storage class",
    ("torch.storage", "_load_from_bytes"): "derived: pickle.dumps(tensor) storage; the scan reads its bytes as a nested checkpoint",
    ("torch", "Size"): "derived: tensor shape",
    ("torch", "device"): "derived: device value",
    ("torch", "per_tensor_affine"): "derived: qscheme",
    ("torch", "per_channel_affine"): "derived: qscheme",
    ("torch", "per_tensor_symmetric"): "(variant) qscheme",
    ("torch", "per_channel_symmetric"): "(variant) qscheme",
    ("torch", "per_channel_affine_float_qparams"): "(variant) qscheme",
    ("torch", "strided"): "(variant) layout",
    ("torch", "sparse_coo"): "(variant) layout",
    ("torch", "sparse_csr"): "(variant) layout",
    ("torch", "contiguous_format"): "(variant) memory format",
    ("torch", "channels_last"): "(variant) memory format",
    ("numpy", "dtype"): "derived: numpy dtype",
    ("numpy", "ndarray"): "derived: numpy array",
    ("numpy._core.multiarray", "_reconstruct"): "derived: numpy array rebuild (numpy 2)",
    ("numpy._core.multiarray", "scalar"): "derived: numpy scalar (numpy 2)",
    ("numpy._core.numeric", "_frombuffer"): "derived: numpy array from an in-band buffer (protocol 5)",
    ("numpy.core.multiarray", "_reconstruct"): "(variant) numpy array rebuild (numpy 1)",
    ("numpy.core.multiarray", "scalar"): "(variant) numpy scalar (numpy 1)",
    ("numpy.core.numeric", "_frombuffer"): "(variant) numpy 1 protocol 5 buffers",
    ("joblib.numpy_pickle", "NumpyArrayWrapper"): "derived: joblib inline array (its data is skipped by the scan)",
    ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"): "(variant) vendored joblib",
    ("_codecs", "encode"): "derived: bytes at protocols 0-2 (str -> bytes)",
    # plain data constructors; torch's weights_only unpickler allows them too
    ("builtins", "set"): "derived: set",
    ("builtins", "frozenset"): "derived: frozenset",
    ("builtins", "bytearray"): "derived: bytearray",
    ("builtins", "complex"): "derived: complex",
    ("builtins", "slice"): "derived: slice",
    ("builtins", "range"): "derived: range",
}
for _d in _TORCH_DTYPES:
    ALLOWLIST.setdefault(("torch", _d), "derived/(variant): torch dtype")
for _s in _TORCH_STORAGES:
    ALLOWLIST.setdefault(("torch", _s), "derived/(variant): storage class marking a dtype")

# Harmless to rebuild, but not weights: exact (module, name).
DATA_CLASSES: dict[tuple[str, str], str] = {
    ("argparse", "Namespace"): "argparse namespace",
    ("transformers.training_args", "TrainingArguments"): "transformers training arguments",
    ("transformers.training_args_seq2seq", "Seq2SeqTrainingArguments"): "transformers training arguments",
    ("transformers.training_args", "OptimizerNames"): "transformers enum",
    ("transformers.trainer_utils", "IntervalStrategy"): "transformers enum",
    ("transformers.trainer_utils", "SaveStrategy"): "transformers enum",
    ("transformers.trainer_utils", "HubStrategy"): "transformers enum",
    ("transformers.trainer_utils", "SchedulerType"): "transformers enum",
    ("transformers.trainer_utils", "EvaluationStrategy"): "transformers enum",
    ("transformers.trainer_utils", "FSDPOption"): "transformers enum",
    ("transformers.trainer_utils", "ShardedDDPOption"): "transformers enum",
    ("transformers.debug_utils", "DebugOption"): "transformers enum",
    ("transformers.trainer_pt_utils", "AcceleratorConfig"): "transformers dataclass",
    ("transformers.trainer_callback", "TrainerState"): "transformers dataclass",
    ("accelerate.utils.dataclasses", "DistributedType"): "accelerate enum",
    ("accelerate.state", "PartialState"): "accelerate state",
    ("enum", "Enum"): "enum",
    ("datetime", "datetime"): "date/time",
    ("datetime", "date"): "date/time",
    ("datetime", "time"): "date/time",
    ("datetime", "timedelta"): "date/time",
    ("datetime", "timezone"): "date/time",
    ("pathlib", "Path"): "path",
    ("pathlib", "PosixPath"): "path",
    ("pathlib", "WindowsPath"): "path",
    ("pathlib", "PurePath"): "path",
    ("pathlib", "PurePosixPath"): "path",
    ("pathlib", "PureWindowsPath"): "path",
    ("decimal", "Decimal"): "number",
    ("fractions", "Fraction"): "number",
    ("uuid", "UUID"): "uuid",
    ("types", "SimpleNamespace"): "namespace",
    ("collections", "defaultdict"): "container (its default_factory is classified separately)",
    ("collections", "Counter"): "container",
    ("collections", "deque"): "container",
    ("copyreg", "_reconstructor"): "protocol 0/1 object rebuild; the class it gets is classified separately",
    ("copyreg", "__newobj__"): "object rebuild; the class it gets is classified separately",
    ("builtins", "object"): "plain object",
}

_W = "runs a shell command or program"
_X = "executes Python code"
_F = "reads/writes files"
_N = "network access"
_L = "loads another pickle/checkpoint (recursion past the scan)"
_A = "reaches arbitrary attributes or callables (getattr chain)"
_I = "imports arbitrary modules"

# dotted prefix -> reason; "a.b" matches a.b and a.b.*
DENYLIST: dict[str, str] = {
    "os": "operating-system access: " + _W + ", " + _F,
    "subprocess": _W, "_posixsubprocess": _W, "pty": _W, "popen2": _W, "pipes": _W, "platform": _W,
    "asyncio": "event loop: subprocesses, sockets, running coroutines",
    "multiprocessing": "starts processes", "concurrent.futures": "starts processes/threads",
    "threading": "starts threads running callables", "_thread": "starts threads running callables",
    "signal": "installs signal handlers", "_osx_support": _W, "_aix_support": _W,
    "builtins.eval": _X, "builtins.exec": _X, "builtins.compile": _X, "builtins.execfile": _X,
    "builtins.__import__": _I, "builtins.getattr": _A, "builtins.setattr": "sets attributes (monkey-patching)",
    "builtins.delattr": "deletes attributes", "builtins.open": _F, "builtins.file": _F,
    "builtins.breakpoint": "starts a debugger", "builtins.input": "reads stdin", "builtins.globals": _A,
    "builtins.locals": _A, "builtins.vars": _A, "builtins.exit": "exits the process", "builtins.quit": "exits the process",
    "builtins.help": "starts a pager", "builtins.__builtins__": _A, "builtins.__dict__": _A,
    "builtins.apply": "calls an arbitrary callable (py2 apply)", "builtins.reload": _I, "builtins.copyright": "starts a pager",
    "builtins.credits": "starts a pager", "builtins.license": "starts a pager",
    "importlib": _I, "imp": _I, "pkgutil": _I, "zipimport": _I, "runpy": _X, "code": _X, "codeop": _X,
    "pdb": _X, "bdb": _X, "trace": _X, "cProfile": _X, "profile": _X, "timeit": _X, "doctest": _X,
    "pydoc": _W, "idlelib": _X, "ensurepip": "installs packages", "venv": "creates environments and runs pip",
    "pip": "installs packages (pip.main)", "setuptools": "runs builds", "distutils": "runs builds/compilers",
    "site": "alters import paths", "sysconfig": "configuration", "ctypes": "calls native code",
    "_ctypes": "calls native code", "cffi": "calls native code", "marshal": _X + " (code objects)",
    "types": "builds functions/code objects", "pickle": _L, "_pickle": _L, "pickletools": "pickle internals",
    "dill": _L, "cloudpickle": _L, "shelve": _L, "copyreg": "alters the pickle extension registry",
    "webbrowser": "opens URLs/programs", "antigravity": "opens a web browser",
    "socket": _N, "_socket": _N, "ssl": _N, "select": _N, "selectors": _N, "socketserver": _N, "http": _N,
    "urllib": _N, "urllib2": _N, "urllib3": _N, "requests": _N, "httpx": _N, "aiohttp": _N, "ftplib": _N,
    "smtplib": _N, "telnetlib": _N, "poplib": _N, "imaplib": _N, "nntplib": _N, "xmlrpc": _N,
    "huggingface_hub": _N, "shutil": _F, "tempfile": _F, "io": _F, "_io": _F, "fileinput": _F, "tarfile": _F,
    "zipfile": _F, "glob": _F, "sys": "interpreter state (sys.modules, exit, tracing)", "gc": _A,
    "inspect": _A, "logging.config": "config listener executes code", "uuid._get_command_stdout": _W,
    "operator.attrgetter": _A, "operator.methodcaller": _A, "operator.call": "calls an arbitrary callable",
    "functools.partial": "wraps an arbitrary callable; calling it calls the wrapped function",
    "functools.partialmethod": "wraps an arbitrary callable", "functools.reduce": "calls an arbitrary callable",
    "numpy.load": _L, "numpy.testing": _X + " (runstring)", "numpy.f2py": "compiles and runs code",
    "numpy.distutils": "runs compilers", "numpy.ctypeslib": "loads native libraries",
    "numpy.lib.npyio": _L, "numpy.lib._npyio_impl": _L, "numpy.lib.utils": _X, "numpy.fromfile": _F,
    "pandas.read_pickle": _L, "pandas.io.pickle": _L, "joblib.load": _L, "yaml.load": _X, "yaml.unsafe_load": _X,
    "yaml.full_load": _X, "torch.hub": "downloads and runs remote code", "torch.load": _L,
    "torch.serialization": _L, "torch.jit": "loads TorchScript (runs code)", "torch._C": "torch C++ internals",
    "torch.ops": "calls arbitrary registered operators", "torch._ops": "calls arbitrary registered operators",
    "torch.classes": "TorchScript classes", "torch.library": "registers operators",
    "torch.utils.cpp_extension": "compiles and loads native code", "torch.utils.collect_env": _W,
    "torch.utils.bottleneck": _X, "torch._dynamo": _X, "torch._inductor": "compiles and runs generated code",
    "torch.fx": "rebuilds graph modules by exec'ing generated code", "torch.package": "loads packaged code",
    "torch.distributed": _N + " / remote calls", "torch.multiprocessing": "starts processes",
    "torch.compile": _X, "torch.testing._internal": _W, "torch.storage._load_from_file": _L,
    "torch.Tensor.__reduce_ex__": _A,
}  # fmt: skip

# Prefixes under a denied prefix that are merely unknown, not dangerous.
_NOT_DANGEROUS = ("os.path", "io.BytesIO", "io.StringIO")
_SAFE_DUNDERS = {"__newobj__", "__newobj_ex__"}

# module aliases (beyond _compat_pickle's): C accelerators and per-OS os modules
_MODULE_ALIASES = {
    "posix": "os",
    "nt": "os",
    "_operator": "operator",
    "_functools": "functools",
    "cPickle": "pickle",
    "_io": "io",
    "__builtin__": "builtins",
    "posixpath": "os.path",
    "ntpath": "os.path",
    "_collections": "collections",
}


def _normalize(module: str, name: str) -> tuple[str, str]:
    """Apply the unpickler's py2 name mapping (fix_imports) and our aliases."""
    mapped = _compat_pickle.NAME_MAPPING.get((module, name))
    if mapped:
        module, name = mapped
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    head, _, rest = module.partition(".")
    if head in _MODULE_ALIASES:
        module = _MODULE_ALIASES[head] + ("." + rest if rest else "")
    return module, name


def _denied(path: str) -> str | None:
    for not_dangerous in _NOT_DANGEROUS:
        if path == not_dangerous or path.startswith(not_dangerous + "."):
            return None
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        reason = DENYLIST.get(".".join(parts[:i]))
        if reason:
            return reason
    return None


# builtins that are not harmless although the denylist does not name them (the denylist
# holds those that run code, import, open files or reach attributes; dunder names such as
# __build_class__ are dangerous by the attribute rule in classify)
BUILTINS_NOT_HARMLESS: dict[str, str] = {
    "map": "calls the function it is given on each item",
    "filter": "calls the function it is given on each item",
    "iter": "iter(callable, sentinel) calls the callable it is given",
    "type": "builds a class from the attributes it is given",
    "super": "reaches attributes of a class hierarchy",
    "hasattr": "looks attributes up by name (runs properties and __getattr__)",
    "property": "wraps a callable that runs on attribute access",
    "classmethod": "wraps a callable",
    "staticmethod": "wraps a callable",
    "print": "writes to the process's output",
}
# value types and functions that call nothing they are given (beyond the type-level methods
# of their arguments, whose classes are judged where they are imported)
BUILTIN_VALUES = frozenset(
    "Ellipsis False None NotImplemented True abs aiter all anext any ascii bin bool bytearray bytes callable chr "
    "complex dict dir divmod enumerate float format frozenset hash hex id int isinstance issubclass len list max "
    "memoryview min next object oct ord pow range repr reversed round set slice sorted str sum tuple zip".split()
)
# modules that only define types, ABCs or flags: importing and instantiating them runs nothing
TYPE_ONLY_MODULES = {
    "__future__": "compiler feature flags",
    "collections.abc": "abstract base classes",
    "numbers": "numeric abstract base classes",
}
TYPING_FORMS = frozenset(
    "Any AnyStr Union Optional List Dict Tuple Set FrozenSet Type Callable Sequence MutableSequence Mapping "
    "MutableMapping Iterable Iterator Generator Collection Container Hashable Sized Literal ClassVar Final "
    "Annotated NoReturn Never Text TypeVar Generic Protocol DefaultDict OrderedDict Deque Counter ChainMap".split()
)
# ML libraries whose classes are rebuilt from data without reaching files, processes, the
# network or other pickles; a class from one of them is a warning naming the library
TRUSTED_LIBRARY_CLASSES = {
    "sklearn": "scikit-learn",
    "omegaconf": "OmegaConf",
    "torch.nn": "torch.nn",
    "torch.optim": "torch.optim",
    "scipy.sparse": "SciPy sparse matrices",
}
# the names torch.jit's C++ unpickler resolves itself (torch/csrc/jit/serialization/unpickler.cpp)
TORCHSCRIPT_NATIVE = frozenset(
    [
        ("torch.jit._pickle", n)
        for n in ("build_tensor_from_id", "restore_type_tag", "build_intlist", "build_tensorlist", "build_doublelist", "build_boollist")
    ]
    + [("torch._utils", n) for n in ("_rebuild_tensor_v2", "_rebuild_qtensor", "_rebuild_parameter", "_rebuild_sparse_tensor")]
    + [("torch._tensor", "_rebuild_from_type_v2"), ("builtins", "complex"), ("collections", "OrderedDict"), ("torch", "device")]
    + [("__main__", "TensorID"), ("__main__", "IntList")]
)


def _harmless(module: str, name: str) -> str | None:
    if module == "builtins":
        if name in BUILTIN_VALUES:
            return "harmless builtin: a value type or function that calls nothing it is given"
        value = getattr(_builtins, name, None)
        if isinstance(value, type) and issubclass(value, BaseException) and name not in BUILTINS_NOT_HARMLESS:
            return "harmless builtin: an exception class (constructing one runs nothing)"
        return None
    if module in TYPE_ONLY_MODULES and "." not in name:
        return "harmless: %s (%s)" % (module, TYPE_ONLY_MODULES[module])
    if module == "typing" and name in TYPING_FORMS:
        return "harmless: a typing special form"
    return None


def _library(module: str, name: str) -> str | None:
    if "." in name or not name[:1].isupper():
        return None  # classes only: library functions are judged like any other function
    for root, library in TRUSTED_LIBRARY_CLASSES.items():
        if module == root or module.startswith(root + "."):
            return library
    return None


def classify_torchscript(module: str, name: str) -> tuple[str, str]:
    """A global in a TorchScript archive, judged as torch.jit.load reads it."""
    verdict, reason = classify(module, name)
    if verdict == DANGEROUS and (module, name) not in TORCHSCRIPT_NATIVE:
        return verdict, reason
    if (module, name) in TORCHSCRIPT_NATIVE:
        return ALLOWED, "TorchScript: resolved natively by torch.jit's C++ unpickler (no Python import)"
    if module == "__torch__" or module.startswith("__torch__."):
        return ALLOWED, "TorchScript: a class compiled from the archive's own code/ (no Python import)"
    return verdict, reason


def classify(module: str, name: str) -> tuple[str, str]:
    """("allowed" | "dangerous" | "data" | "unknown", reason) for a global `module.name`."""
    if not module or not name:
        return UNKNOWN, "unresolved global"
    raw = (module, name)
    module, name = _normalize(module, name)
    key = (module, name)
    if key in ALLOWLIST:
        return ALLOWED, ALLOWLIST[key]
    if key in DATA_CLASSES:  # exact names, checked before the denylist's module prefixes (copyreg, types)
        return DATA, DATA_CLASSES[key]
    full = module + "." + name
    name_parts = name.split(".")
    # A protocol-4 dotted name walks attributes: every suffix may be a module reached
    # through an attribute (torch.serialization.os.system), so each is checked.
    candidates = [full] + [".".join(name_parts[k:]) for k in range(len(name_parts))]
    for cand in reversed(candidates):  # the attribute chain's end says what is reached
        head, _, rest = cand.partition(".")
        if head in _MODULE_ALIASES:
            cand = _MODULE_ALIASES[head] + ("." + rest if rest else "")
        reason = _denied(cand)
        if reason:
            return DANGEROUS, "%s: %s" % (".".join(raw), reason)
    for part in name_parts:
        if part.startswith("__") and part.endswith("__") and part not in _SAFE_DUNDERS:
            return DANGEROUS, "%s: attribute access through %s" % (".".join(raw), part)
    if name in BUILTINS_NOT_HARMLESS and module == "builtins":
        return UNKNOWN, "%s: %s" % (".".join(raw), BUILTINS_NOT_HARMLESS[name])
    harmless = _harmless(module, name)
    if harmless:
        return ALLOWED, harmless
    library = _library(module, name)
    if library:
        return LIBRARY, library
    if len(name_parts) > 1:
        return UNKNOWN, "%s: dotted attribute path (protocol 4)" % ".".join(raw)
    return UNKNOWN, "%s: not on the allowlist" % ".".join(raw)
