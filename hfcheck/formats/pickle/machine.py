"""The symbolic machine: runs one pickle stream (PROTO .. STOP) over symbolic values.

Shaped like CPython's `pickle._Unpickler`: a stack, a mark stack, a memo and one handler
per opcode family, found through a dispatch table keyed by opcode byte. Instead of
importing and calling, the handlers record which globals are imported and which are
called (REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ, BUILD). Nothing named by the pickle is
ever imported.
"""

from __future__ import annotations

import codecs
import math
import struct

from hfcheck.formats.pickle.numpy_dtypes import pickled_dtype_has_object, pickled_dtype_itemsize
from hfcheck.formats.pickle.opcodes import HIGHEST_PROTOCOL, OPCODES, ArgLayout
from hfcheck.formats.pickle.reader import BadArgument, FileWindow, StreamReader, Truncated, data_span
from hfcheck.formats.pickle.results import InternalError, ScanContext, ScanHalt, ScanLimit
from hfcheck.formats.pickle.text_arguments import (
    decode_kept,
    parse_float_line,
    parse_int_line,
    parse_long_line,
    parse_memo_index,
    refuses_number,
    refuses_string,
)
from hfcheck.formats.pickle.values import CUT, OPAQUE, BigBlob, CallResult, DictValue, ImportedGlobal, Opaque, PersistentRef, SetValue


# Line opcodes whose loaders refuse a line by its first bytes (read to its end, however long)
_LINE_REFUSALS = {name: refuses_number for name in ("INT", "LONG", "FLOAT", "GET", "PUT")} | {"STRING": refuses_string}


def _read_fixed_int(size: int, signed: bool):
    if size == 1:
        return lambda reader: reader.read(1)[0]
    return lambda reader: int.from_bytes(reader.read(size), "little", signed=signed)


def _argument_reader(opcode):
    """A function reader -> the opcode's argument, by its layout (see opcodes.py)."""
    layout = opcode.layout
    if layout is ArgLayout.NONE:
        return None
    if layout in (ArgLayout.FIXED_INT, ArgLayout.LENGTH):
        return _read_fixed_int(opcode.size, opcode.signed)
    if layout is ArgLayout.FLOAT8:
        return lambda reader: struct.unpack(">d", reader.read(8))[0]
    if layout is ArgLayout.LINE:
        refuses = _LINE_REFUSALS.get(opcode.name)
        return StreamReader.readline if refuses is None else (lambda reader: reader.readline(refuses))
    return lambda reader: (reader.readline(), reader.readline())


def _kept_text(raw: bytes, keep: int, cut: bool) -> str:
    return raw[:keep].decode("utf-8", "replace") + (CUT if cut or len(raw) > keep else "")


def _decode_str8(raw: bytes):
    """STRING/BINSTRING: Python 3 decodes them with the unpickler's encoding (ASCII by default)."""
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return raw


class StreamMachine:
    """Runs one pickle stream symbolically; `nested_scanner(data, member, depth)` scans
    bytes the stream hands to a nested loader (torch.storage._load_from_bytes)."""

    def __init__(self, ctx: ScanContext, reader: StreamReader, member: str | None, depth: int, nested_scanner):
        self.ctx, self.reader, self.member, self.depth = ctx, reader, member, depth
        self.nested_scanner = nested_scanner
        self.stack: list = []
        self.mark_stack: list[list] = []
        self.memo: dict[int, object] = {}
        self.proto = 0
        self.limits = ctx.limits
        self.frame_end: int | None = None  # stream position where the current FRAME ends

    # the loop ----------------------------------------------------------------
    def run(self):
        """Returns the value STOP popped; raises ScanHalt/Truncated/BadArgument on failure
        and InternalError (a ScanHalt) when a handler fails for any other reason."""
        try:
            return self._loop()
        except (ScanHalt, Truncated, BadArgument):
            raise
        except (RecursionError, MemoryError) as e:
            raise ScanHalt("pickle stream could not be analysed: %s" % type(e).__name__) from None
        except Exception as e:  # a bug in a handler: fail closed, never "not a pickle"
            raise InternalError(
                "internal error in the pickle machine (%s: %s); the rest of the stream is not scanned" % (type(e).__name__, e)
            ) from e

    def _loop(self):
        ctx, reader, max_opcodes = self.ctx, self.reader, self.limits.max_opcodes
        dispatch, read = DISPATCH, reader.read
        while True:
            ctx.opcodes += 1
            if ctx.opcodes > max_opcodes:
                raise ScanHalt("more than %d opcodes; scan incomplete" % max_opcodes, fatal=True)
            if not ctx.opcodes & 0xFFF:
                ctx.check_time()
            offset = reader.pos
            code = read(1)[0]
            entry = dispatch.get(code)
            if entry is None:
                raise ScanHalt("unknown opcode 0x%02x" % code)
            read_argument, handler = entry
            try:
                arg = read_argument(reader) if read_argument is not None else None
            except Truncated:
                if handler is _global or handler is _inst:
                    self.line_pair_at_end(offset)
                raise
            except ScanLimit:
                if handler is _text_put and not self.stack:
                    # both unpicklers read PUT's line, then fail on the empty stack whatever
                    # it holds (a safetensors header length whose low byte is 'p')
                    raise ScanHalt("stack underflow") from None
                raise
            if self.frame_end is not None and reader.pos > self.frame_end:
                # the argument itself crossed: reported before the handler, which may fail on
                # what only this reading of the line sees (the C unpickler drops a line's part
                # inside the frame and reads it afresh from the file)
                self.frame_crossed(code, offset)
                self.frame_end = None
            if handler is _stop:
                if self.frame_end is not None and reader.pos < self.frame_end:
                    self.stop_inside_frame(offset)
                return self.pop()
            handler(self, arg, offset)
            if self.frame_end is not None and reader.pos >= self.frame_end:
                if reader.pos > self.frame_end:
                    self.frame_crossed(code, offset)
                self.frame_end = None

    def frame_crossed(self, code: int, offset: int) -> None:
        # The C unpickler (pickle.load, torch.load) treats a frame as a read-ahead hint and
        # reads straight on; pickle.py and scanners built on pickletools stop at the frame's
        # end. An opcode straddling the boundary is read differently by the two: it hides
        # what follows from one of them (a peer scanner missed an os.system call this way).
        self.ctx.frames_disagree = True  # a pickle to a loader, whatever this reading finds next
        self.ctx.problem(
            "%s at byte %d crosses the end of its FRAME (frame ends at byte %d): readers disagree on what follows"
            % (OPCODES[code].name, offset, self.frame_end),
            offset,
            self.member,
        )

    def line_pair_at_end(self, offset: int) -> None:
        """A GLOBAL/INST whose lines run into the end of the data: the C unpickler stops
        there, but pickle.py (joblib's unpickler) reads the last line without its newline
        and cuts its last byte as if it were one, then imports the module (find_class
        with an empty name when the module line is the last). Only the lines' first
        bytes are read (a module line longer than max_keep is kept cut); a hole that runs
        to the end is zero bytes, no module name."""
        reader, keep = self.reader, self.limits.max_keep
        span = data_span(reader.f, offset + 1)
        if span is None or span[0] >= reader.end:
            return
        reader.f.seek(offset + 1)
        rest = reader.f.read(min(reader.end - offset - 1, 2 * keep + 2))
        complete = offset + 1 + len(rest) >= reader.end  # else a line runs on past what was read
        module, newline, name = rest.partition(b"\n")
        if not newline:
            module, name = (module[:-1] if complete else module), b""
        elif complete:
            name = name[:-1]
        if module and b"\n" not in name:
            cut_module, cut_name = not newline and not complete, bool(newline) and not complete
            self.new_global(_kept_text(module, keep, cut_module), _kept_text(name, keep, cut_name), offset)

    def stop_inside_frame(self, offset: int) -> None:
        # The C unpickler reads a whole FRAME from the file before it runs its opcodes, so a
        # STOP inside the frame leaves the file after the frame's end: a loader that reads
        # on (torch's legacy format, pickle.load in a loop) starts its next pickle there,
        # past bytes a scanner that goes on after STOP reads instead. Pickler output always
        # ends its frame with STOP.
        self.ctx.frames_disagree = True
        self.ctx.problem(
            "STOP at byte %d ends the stream inside its FRAME (frame ends at byte %d): the next pickle a loader reads starts elsewhere"
            % (offset, self.frame_end),
            offset,
            self.member,
        )

    # stack helpers ---------------------------------------------------------
    def push(self, value) -> None:
        if len(self.stack) >= self.limits.max_stack:
            raise ScanLimit("stack deeper than %d items; scan incomplete" % self.limits.max_stack)
        self.stack.append(value)

    def pop(self):
        if not self.stack:
            raise ScanHalt("stack underflow")
        return self.stack.pop()

    def top(self):
        if not self.stack:
            raise ScanHalt("stack underflow")
        return self.stack[-1]

    def pop_mark(self) -> list:
        if not self.mark_stack:
            raise ScanHalt("MARK expected but not found (mark stack underflow)")
        items = self.stack
        self.stack = self.mark_stack.pop()
        return items

    # recording -------------------------------------------------------------
    def new_global(self, module: str, name: str, offset: int, resolved: bool = True) -> ImportedGlobal:
        ctx = self.ctx
        if len(ctx.imported) >= self.limits.max_globals:
            raise ScanHalt("more than %d globals; scan incomplete" % self.limits.max_globals, fatal=True)
        imported = ImportedGlobal(module, name, offset, self.member, resolved)
        ctx.imported.append(imported)
        return imported

    def call(self, opname: str, callee, args, offset: int):
        """Records a call of `callee` with `args` and returns what the unpickler would push."""
        ctx = self.ctx
        if isinstance(callee, PersistentRef):
            # torch's legacy format pickles a module's class as the persistent id
            # ('module', <class global>, source_file, source); persistent_load returns the class.
            pid = callee.pid
            if isinstance(pid, tuple) and len(pid) >= 2 and pid[0] == "module" and isinstance(pid[1], ImportedGlobal):
                callee = pid[1]
        if not isinstance(callee, ImportedGlobal):
            ctx.calls.append((opname, offset, self.member, None))
            if callee is not OPAQUE:
                # A REDUCE whose callable was itself computed (getattr(...) result, memo
                # games): what runs is invisible to an import-based scan.
                ctx.problem("%s calls a value that is not an imported global" % opname, offset, self.member)
            return CallResult(callee, args)
        callee.called = True
        ctx.calls.append((opname, offset, self.member, callee))
        key = (callee.module, callee.name)
        if key == ("torch.storage", "_load_from_bytes"):
            self.nested_load(args, offset)
        result = CallResult(callee, args, opcode=opname)
        passes_on = ARGUMENT_CALLERS.get(key)
        if passes_on is not None and isinstance(args, tuple):
            passes_on(self, result, args, offset)
        if key == ("_codecs", "encode"):
            return _fold_codecs_encode(args, result)
        return result

    def nested_load(self, args, offset: int) -> None:
        """torch.storage._load_from_bytes(b) is torch.load(BytesIO(b)): scan b as a checkpoint,
        whichever way the call is reached."""
        data = args[0] if isinstance(args, tuple) and args else None
        where = "%s<_load_from_bytes@%d>" % (self.member + "/" if self.member else "", offset)
        if self.nested_scanner is not None and isinstance(data, (bytes, bytearray)):
            self.nested_scanner(bytes(data), where, self.depth + 1)
        elif self.nested_scanner is not None and isinstance(data, BigBlob) and data.source is not None:
            self.nested_scanner(FileWindow(data.source, data.start, data.length), where, self.depth + 1)
        else:
            self.ctx.problem("torch.storage._load_from_bytes payload could not be scanned", offset, self.member)

    def set_attributes(self, obj, state, offset: int, how: str) -> None:
        """BUILD (or torch's _set_obj_state) stores `state` as instance attributes of `obj`.
        The unpickler itself later looks some of them up on the instance and calls them:
        `__setstate__` in BUILD, `append`/`extend` in APPEND(S), `add` in ADDITEMS. Storing
        a callable under such a name turns an allowlisted object into a call of whatever
        was stored."""
        for items in _state_dicts(state):
            for key, value in items:
                if not isinstance(key, str):
                    if _may_be_callable(value):
                        self.ctx.problem("%s sets an attribute whose name is computed to a callable value" % how, offset, self.member)
                    continue
                if key in CALLED_BY_UNPICKLER and _may_be_callable(value):
                    self.ctx.problem(
                        "%s sets the instance attribute %r to a callable: the unpickler calls it later" % (how, key), offset, self.member
                    )
                if isinstance(obj, CallResult):
                    obj.attributes[key] = value

    def call_instance_attribute(self, obj, name: str, args, offset: int) -> bool:
        """Calls `obj.<name>(*args)` when the pickle itself stored that attribute; True if it did."""
        if isinstance(obj, CallResult) and name in obj.attributes:
            self.call("%s(instance attribute)" % name, obj.attributes[name], args, offset)
            return True
        return False

    def memo_put(self, index: int) -> None:
        if index < 0:
            raise ScanHalt("negative memo index")
        if index not in self.memo and len(self.memo) >= self.limits.max_memo:
            raise ScanLimit("memo larger than %d entries; scan incomplete" % self.limits.max_memo)
        self.memo[index] = self.top()

    def memo_get(self, index: int):
        try:
            return self.memo[index]
        except KeyError:
            raise ScanHalt("memo key %d read before it was written" % index) from None

    def read_payload(self, length: int, as_text: bool):
        reader = self.reader
        if length < 0:
            raise ScanHalt("negative length")
        if length > self.limits.max_keep:
            start = reader.pos
            reader.skip(length)
            return BigBlob(length, reader.f, start)
        raw = reader.read(length)
        if as_text:
            try:
                return raw.decode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                raise ScanHalt("invalid UTF-8 in a unicode string") from None
        return raw

    def build(self, obj, state, offset: int) -> None:
        ctx = self.ctx
        if isinstance(obj, ImportedGlobal):
            # BUILD on an imported class/function/module sets attributes on it: a way to
            # monkey-patch code that later runs (e.g. replace torch._utils helpers).
            ctx.calls.append(("BUILD", offset, self.member, obj))
            ctx.problem("BUILD sets attributes on an imported global (%s.%s)" % (obj.module, obj.name), offset, self.member)
            return
        if isinstance(obj, PersistentRef):
            # persistent_load may return a class (torch's legacy 'module' ids) or a shared
            # storage: BUILD then patches that object for everything that uses it later
            ctx.calls.append(("BUILD", offset, self.member, None))
            ctx.problem("BUILD sets attributes on a persistent-load result (a class or shared object)", offset, self.member)
            return
        if not isinstance(obj, CallResult):
            ctx.calls.append(("BUILD", offset, self.member, None))
            return
        callee = obj.callee
        ctx.calls.append(("BUILD", offset, self.member, callee if isinstance(callee, ImportedGlobal) else None))
        if self.call_instance_attribute(obj, "__setstate__", (state,), offset):
            return
        self.set_attributes(obj, state, offset, "BUILD")
        if isinstance(obj.state, DictValue) and isinstance(state, DictValue):
            obj.state = DictValue(obj.state.items + state.items)  # inst.__dict__.update(state): later keys win
        else:
            obj.state = state
        if obj.opcode in ("NEWOBJ", "NEWOBJ_EX") and isinstance(state, DictValue) and _is_module_state(state):
            callee.role = "nn-module class"  # torch.save(model): the model's own class, rebuilt without __init__
        if isinstance(callee, ImportedGlobal) and callee.name == "NumpyArrayWrapper" and callee.module.endswith("joblib.numpy_pickle"):
            self.skip_joblib_array(obj.state)

    def skip_joblib_array(self, state) -> None:
        """joblib writes array bytes right after the wrapper's BUILD, inside the pickle
        stream (NumpyUnpickler reads them there); object arrays are a nested pickle."""
        ctx, reader = self.ctx, self.reader
        if not isinstance(state, DictValue):
            raise ScanHalt("joblib array wrapper without a state dict; rest of stream not scanned")
        if not all(_is_constant(key) for key, _ in state.items):
            raise ScanHalt("joblib array wrapper state has computed keys; rest of stream not scanned")
        if self.frame_end is not None:
            if reader.pos < self.frame_end:
                # joblib reads the array from the file, i.e. after the buffered frame, while
                # the unpickler goes on with the rest of the frame: two readings of one file
                ctx.problem(
                    "joblib array data starts inside a FRAME; joblib and the unpickler read different bytes", reader.pos, self.member
                )
            self.frame_end = None  # the array bytes are outside the framing
        dtype = state.get("dtype")
        shape = state.get("shape")
        if dtype_has_object(dtype, 0):
            ctx.streams += 1
            inner = StreamMachine(ctx, reader, self.member, self.depth, self.nested_scanner)
            inner.run()  # failures propagate: the outer stream cannot be resynchronised
            return
        itemsize = dtype_itemsize(dtype)
        if (
            itemsize is None
            or not isinstance(shape, tuple)
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        ):
            raise ScanHalt("joblib inline array of unknown size; rest of stream not scanned")
        # joblib: `if getattr(self, "numpy_array_alignment_bytes", None) is not None`
        alignment = state.get("numpy_array_alignment_bytes")
        if isinstance(alignment, (CallResult, PersistentRef, Opaque)):
            raise ScanHalt("joblib array alignment is computed at load time; rest of stream not scanned")
        if alignment is not None:
            pad = reader.read(1)[0]
            reader.skip(pad)
        reader.skip(math.prod(shape) * itemsize)


# --------------------------------------------------------------------------- handlers
# Each takes (machine, argument, offset). Grouped by family as in pickle._Unpickler.


def _stop(m: StreamMachine, arg, offset: int) -> None:  # handled in the loop: it returns a value
    raise AssertionError("STOP is handled by StreamMachine.run")


# framing and protocol
def _proto(m, arg, offset):
    if arg > HIGHEST_PROTOCOL:
        raise ScanHalt("unsupported pickle protocol %d" % arg)
    m.proto = arg


def _frame(m, arg, offset):
    if arg > m.reader.end - m.reader.pos:
        m.ctx.problem("FRAME of %d bytes runs past the end of the stream" % arg, offset, m.member)
    if m.frame_end is not None and m.reader.pos < m.frame_end:
        # pickle.py refuses this ("beginning of a new frame before end of current frame"); C reads on
        m.ctx.problem("FRAME at byte %d begins before the previous frame ends (byte %d)" % (offset, m.frame_end), offset, m.member)
    m.frame_end = m.reader.pos + arg


# constants and numbers
def _none(m, arg, offset):
    m.push(None)


def _true(m, arg, offset):
    m.push(True)


def _false(m, arg, offset):
    m.push(False)


def _binary_number(m, arg, offset):  # BININT*, BINFLOAT: the argument is the value
    m.push(arg)


def _text_int(m, arg, offset):
    try:
        m.push(parse_int_line(arg))
    except ValueError:
        raise ScanHalt("bad INT argument") from None


def _text_long(m, arg, offset):
    try:
        m.push(parse_long_line(arg))
    except ValueError:
        raise ScanHalt("bad LONG argument") from None


def _binary_long(m, length, offset):
    if length < 0:
        raise ScanHalt("negative LONG4 length")
    if length > 64:
        m.reader.skip(length)
        m.push(OPAQUE)
    else:
        m.push(int.from_bytes(m.reader.read(length), "little", signed=True))


def _text_float(m, arg, offset):
    try:
        m.push(parse_float_line(arg))
    except ValueError:
        raise ScanHalt("bad FLOAT argument") from None


# strings and bytes
def _binary_unicode(m, length, offset):
    m.push(m.read_payload(length, True))


def _binary_bytes(m, length, offset):
    m.push(m.read_payload(length, False))


def _binary_string(m, length, offset):
    value = m.read_payload(length, False)
    m.push(_decode_str8(value) if isinstance(value, bytes) else value)


def _text_string(m, arg, offset):
    if len(arg) >= 2 and arg[0] == arg[-1] and arg[:1] in (b"'", b'"'):
        try:
            value = codecs.escape_decode(arg[1:-1])[0]
        except ValueError:
            raise ScanHalt("bad STRING escape") from None
    else:
        raise ScanHalt("the STRING opcode argument must be quoted")
    keep = m.limits.max_keep
    if len(value) <= keep:
        m.push(_decode_str8(value))
    elif value.isascii():
        m.push(value[:keep].decode("ascii") + CUT)  # kept cut, as a possible STACK_GLOBAL operand
    else:
        m.push(BigBlob(len(value)))


def _text_unicode(m, arg, offset):
    try:
        m.push(decode_kept(arg, "raw-unicode-escape", m.limits.max_keep))
    except UnicodeDecodeError:
        raise ScanHalt("bad UNICODE argument") from None


def _next_buffer(m, arg, offset):
    # Protocol 5 out-of-band data lives outside the file; pickle.load without
    # `buffers=` fails here, and what the buffer holds cannot be checked.
    m.ctx.problem("out-of-band buffer (NEXT_BUFFER): data is not in the stream", offset, m.member)
    m.push(OPAQUE)


def _readonly_buffer(m, arg, offset):
    m.top()


# tuples, lists, dicts, sets
def _empty_tuple(m, arg, offset):
    m.push(())


def _tuple1(m, arg, offset):
    m.push((m.pop(),))


def _tuple2(m, arg, offset):
    b = m.pop()
    m.push((m.pop(), b))


def _tuple3(m, arg, offset):
    c = m.pop()
    b = m.pop()
    m.push((m.pop(), b, c))


def _tuple(m, arg, offset):
    m.push(tuple(m.pop_mark()[: m.limits.max_items]))


def _empty_list(m, arg, offset):
    m.push([])


def _list(m, arg, offset):
    m.push(m.pop_mark()[: m.limits.max_items])


def _append(m, arg, offset):
    value = m.pop()
    target = m.top()
    if isinstance(target, list):
        if len(target) < m.limits.max_items:
            target.append(value)
    else:
        m.call_instance_attribute(target, "append", (value,), offset)


def _appends(m, arg, offset):
    items = m.pop_mark()
    target = m.top()
    if isinstance(target, list):
        target.extend(items[: max(0, m.limits.max_items - len(target))])
    elif not m.call_instance_attribute(target, "extend", (items,), offset):
        for item in items:
            if not m.call_instance_attribute(target, "append", (item,), offset):
                break


def _empty_dict(m, arg, offset):
    m.push(DictValue())


def _dict(m, arg, offset):
    items = m.pop_mark()
    if len(items) % 2:
        raise ScanHalt("odd number of items for DICT")
    m.push(DictValue(list(zip(items[0::2], items[1::2]))[: m.limits.max_items]))


def _setitem(m, arg, offset):
    value = m.pop()
    key = m.pop()
    target = m.top()
    if isinstance(target, DictValue) and len(target.items) < m.limits.max_items:
        target.items.append((key, value))
    elif isinstance(target, CallResult) and len(target.mapping_items) < m.limits.max_items:
        target.mapping_items.append((key, value))  # an OrderedDict/defaultdict: obj[key] = value


def _setitems(m, arg, offset):
    items = m.pop_mark()
    if len(items) % 2:
        raise ScanHalt("odd number of items for SETITEMS")
    target = m.top()
    if isinstance(target, DictValue):
        target.items.extend(list(zip(items[0::2], items[1::2]))[: max(0, m.limits.max_items - len(target.items))])
    elif isinstance(target, CallResult):
        target.mapping_items.extend(list(zip(items[0::2], items[1::2]))[: max(0, m.limits.max_items - len(target.mapping_items))])


def _empty_set(m, arg, offset):
    m.push(SetValue())


def _additems(m, arg, offset):
    items = m.pop_mark()
    target = m.top()
    if isinstance(target, SetValue):
        target.items.extend(items[: max(0, m.limits.max_items - len(target.items))])
    else:
        for item in items:
            if not m.call_instance_attribute(target, "add", (item,), offset):
                break


def _frozenset(m, arg, offset):
    m.push(SetValue(m.pop_mark()[: m.limits.max_items]))


# stack manipulation
def _mark(m, arg, offset):
    if len(m.mark_stack) >= m.limits.max_stack:
        raise ScanLimit("mark stack deeper than %d; scan incomplete" % m.limits.max_stack)
    m.mark_stack.append(m.stack)
    m.stack = []


def _pop(m, arg, offset):
    if m.stack:
        m.stack.pop()
    else:
        m.pop_mark()


def _pop_mark(m, arg, offset):
    m.pop_mark()


def _dup(m, arg, offset):
    m.push(m.top())


# memo
def _binary_get(m, index, offset):
    m.push(m.memo_get(index))


def _binary_put(m, index, offset):
    m.memo_put(index)


def _memoize(m, arg, offset):
    m.memo_put(len(m.memo))


def _text_get(m, arg, offset):
    try:
        index = parse_memo_index(arg)
    except ValueError:
        raise ScanHalt("bad GET argument") from None
    if not isinstance(index, int):
        raise ScanHalt("GET index of %d digits" % len(arg))
    m.push(m.memo_get(index))


def _text_put(m, arg, offset):
    try:
        index = parse_memo_index(arg)
    except ValueError:
        raise ScanHalt("bad PUT argument") from None
    if not isinstance(index, int):
        raise ScanHalt("PUT index of %d digits" % len(arg))
    m.memo_put(index)


# imports
def _global(m, arg, offset):
    module, name = arg
    try:
        m.push(m.new_global(decode_kept(module, "utf-8", m.limits.max_keep), decode_kept(name, "utf-8", m.limits.max_keep), offset))
    except UnicodeDecodeError:
        raise ScanHalt("GLOBAL names are not UTF-8") from None


def _stack_global(m, arg, offset):
    name = m.pop()
    module = m.pop()
    if isinstance(module, str) and isinstance(name, str):
        m.push(m.new_global(module, name, offset))
    else:
        # Operands built at load time (a call's result, a concatenation, ...):
        # the import cannot be known statically, a known bypass technique.
        m.ctx.problem("STACK_GLOBAL with operands that are not string constants", offset, m.member)
        m.push(m.new_global("", "", offset, resolved=False))


def _extension(opname: str):
    def handler(m, code, offset):
        # The copyreg extension registry maps codes to globals at load time.
        m.ctx.problem("%s: global from the copyreg extension registry (code %d) cannot be resolved" % (opname, code), offset, m.member)
        m.push(m.new_global("", "", offset, resolved=False))

    return handler


# calls and object building
def _inst(m, arg, offset):
    module, name = arg
    # pickle.py (joblib's unpickler) imports the class before it looks for the MARK; the C
    # unpickler looks first. The import happens in one of them, so it is recorded first.
    try:
        cls = m.new_global(decode_kept(module, "utf-8", m.limits.max_keep), decode_kept(name, "utf-8", m.limits.max_keep), offset)
    except UnicodeDecodeError:
        raise ScanHalt("INST names are not UTF-8") from None
    items = m.pop_mark()
    m.push(m.call("INST", cls, tuple(items), offset))


def _obj(m, arg, offset):
    items = m.pop_mark()
    if not items:
        raise ScanHalt("OBJ without a class")
    m.push(m.call("OBJ", items[0], tuple(items[1:]), offset))


def _reduce(m, arg, offset):
    args = m.pop()
    func = m.pop()
    m.push(m.call("REDUCE", func, args, offset))


def _newobj(m, arg, offset):
    args = m.pop()
    cls = m.pop()
    m.push(m.call("NEWOBJ", cls, args, offset))


def _newobj_ex(m, arg, offset):
    m.pop()  # kwargs
    args = m.pop()
    cls = m.pop()
    m.push(m.call("NEWOBJ_EX", cls, args, offset))


def _build(m, arg, offset):
    state = m.pop()
    m.build(m.top(), state, offset)


# persistent ids
def _persid(m, arg, offset):
    # torch refers to tensor storages by persistent id: benign, only counted.
    m.ctx.persistent_ids += 1
    m.push(PersistentRef(arg if len(arg) <= m.limits.max_keep else BigBlob(len(arg))))


def _binpersid(m, arg, offset):
    pid = m.pop()
    m.ctx.persistent_ids += 1
    m.push(PersistentRef(pid))


# --------------------------------------------------------------------------- allowlisted callables that call their arguments

# Instance attributes the unpickler looks up on the object and calls (pickle.py/_pickle.c:
# load_build, load_append(s), load_additems), or that change how the object is rebuilt.
CALLED_BY_UNPICKLER = frozenset(
    "__setstate__ append extend add __reduce__ __reduce_ex__ __getattr__ __getattribute__ __setattr__ __setitem__ __class__ __dict__ __init__ __new__ __call__".split()
)


def _is_module_state(state: DictValue) -> bool:
    keys = {key for key, _ in state.items if isinstance(key, str)}
    return {"_parameters", "_buffers", "_modules"} <= keys


def _is_constant(value) -> bool:
    return (
        value is None
        or isinstance(value, (str, bytes, bytearray, int, float, complex))
        or (isinstance(value, tuple) and all(_is_constant(v) for v in value))
    )


def _may_be_callable(value) -> bool:
    return isinstance(value, (ImportedGlobal, CallResult, PersistentRef, Opaque))


def _state_dicts(state) -> list[list]:
    """The (key, value) pairs BUILD stores: a dict state, or (dict state, slot state)."""

    def pairs(part):
        if isinstance(part, DictValue):
            return part.items
        if isinstance(part, CallResult):  # an OrderedDict filled by SETITEMS
            return part.mapping_items
        return None

    if isinstance(state, tuple) and len(state) == 2:
        return [p for p in map(pairs, state) if p]
    found = pairs(state)
    return [found] if found else []


def _rebuild_from_type_v2(m: StreamMachine, result: CallResult, args: tuple, offset: int) -> None:
    # torch._tensor._rebuild_from_type_v2(func, new_type, args, state): ret = func(*args),
    # then ret.__setstate__(state) or torch._utils._set_obj_state(ret, state) (setattr per key)
    if len(args) >= 3:
        m.call("REDUCE(func of _rebuild_from_type_v2)", args[0], args[2], offset)
    if len(args) >= 4:
        m.set_attributes(result, args[3], offset, "_rebuild_from_type_v2 state")


def _rebuild_parameter_with_state(m: StreamMachine, result: CallResult, args: tuple, offset: int) -> None:
    # torch._utils._rebuild_parameter_with_state(data, requires_grad, hooks, state): _set_obj_state
    if len(args) >= 4:
        m.set_attributes(result, args[3], offset, "_rebuild_parameter_with_state state")


def _copyreg_reconstructor(m: StreamMachine, result: CallResult, args: tuple, offset: int) -> None:
    # copyreg._reconstructor(cls, base, state): base.__new__(cls, state), base.__init__(obj, state)
    if len(args) >= 2 and args[1] is not args[0]:
        m.call("REDUCE(base of copyreg._reconstructor)", args[1], args[2:3], offset)


def _copyreg_newobj(m: StreamMachine, result: CallResult, args: tuple, offset: int) -> None:
    # copyreg.__newobj__(cls, *args): cls.__new__(cls, *args)
    if args:
        m.call("REDUCE(cls of copyreg.__newobj__)", args[0], args[1:], offset)


ARGUMENT_CALLERS = {
    ("torch._utils", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
    ("copyreg", "_reconstructor"): _copyreg_reconstructor,
    ("copy_reg", "_reconstructor"): _copyreg_reconstructor,
    ("copyreg", "__newobj__"): _copyreg_newobj,
    ("copy_reg", "__newobj__"): _copyreg_newobj,
}

_TEXT_CODECS = {"latin1", "latin_1", "iso8859_1", "iso_8859_1", "l1", "ascii", "us_ascii", "utf8", "utf_8"}


def _fold_codecs_encode(args, result: CallResult):
    """_codecs.encode(text, 'latin1') is how protocols 0-2 write bytes: the value is known."""
    if isinstance(args, tuple) and len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], str):
        codec = args[1].lower().replace("-", "_")
        if codec in _TEXT_CODECS:
            try:
                return args[0].encode(codec)
            except UnicodeEncodeError:
                return result
    return result


_HANDLERS = {
    "PROTO": _proto, "FRAME": _frame, "STOP": _stop,
    "NONE": _none, "NEWTRUE": _true, "NEWFALSE": _false,
    "BININT": _binary_number, "BININT1": _binary_number, "BININT2": _binary_number, "BINFLOAT": _binary_number,
    "INT": _text_int, "LONG": _text_long, "LONG1": _binary_long, "LONG4": _binary_long, "FLOAT": _text_float,
    "SHORT_BINUNICODE": _binary_unicode, "BINUNICODE": _binary_unicode, "BINUNICODE8": _binary_unicode,
    "SHORT_BINBYTES": _binary_bytes, "BINBYTES": _binary_bytes, "BINBYTES8": _binary_bytes, "BYTEARRAY8": _binary_bytes,
    "SHORT_BINSTRING": _binary_string, "BINSTRING": _binary_string, "STRING": _text_string, "UNICODE": _text_unicode,
    "NEXT_BUFFER": _next_buffer, "READONLY_BUFFER": _readonly_buffer,
    "EMPTY_TUPLE": _empty_tuple, "TUPLE1": _tuple1, "TUPLE2": _tuple2, "TUPLE3": _tuple3, "TUPLE": _tuple,
    "EMPTY_LIST": _empty_list, "LIST": _list, "APPEND": _append, "APPENDS": _appends,
    "EMPTY_DICT": _empty_dict, "DICT": _dict, "SETITEM": _setitem, "SETITEMS": _setitems,
    "EMPTY_SET": _empty_set, "ADDITEMS": _additems, "FROZENSET": _frozenset,
    "MARK": _mark, "POP": _pop, "POP_MARK": _pop_mark, "DUP": _dup,
    "BINGET": _binary_get, "LONG_BINGET": _binary_get, "BINPUT": _binary_put, "LONG_BINPUT": _binary_put,
    "MEMOIZE": _memoize, "GET": _text_get, "PUT": _text_put,
    "GLOBAL": _global, "STACK_GLOBAL": _stack_global,
    "EXT1": _extension("EXT1"), "EXT2": _extension("EXT2"), "EXT4": _extension("EXT4"),
    "INST": _inst, "OBJ": _obj, "REDUCE": _reduce, "NEWOBJ": _newobj, "NEWOBJ_EX": _newobj_ex, "BUILD": _build,
    "PERSID": _persid, "BINPERSID": _binpersid,
}  # fmt: skip

# opcode byte -> (argument reader, handler); an opcode pickletools knows and no handler
# covers fails here at import time, not silently at scan time.
DISPATCH = {code: (_argument_reader(op), _HANDLERS[op.name]) for code, op in OPCODES.items()}


# --------------------------------------------------------------------------- numpy dtypes in a pickle


def dtype_has_object(dtype, depth: int) -> bool:
    return pickled_dtype_has_object(dtype, depth)  # numpy's rules live in numpy_dtypes


def dtype_itemsize(dtype) -> int | None:
    return pickled_dtype_itemsize(dtype)


# --------------------------------------------------------------------------- consecutive streams


def run_streams(
    ctx: ScanContext, reader: StreamReader, member: str | None, depth: int, nested_scanner, max_streams: int | None = None
) -> None:
    """Scans consecutive pickle streams until the end of the range (or max_streams).

    With max_streams=None the loader reads one stream (pickle.load, joblib.load, torch's
    data.pkl) and never looks at what follows its STOP. Further streams are still scanned,
    for loaders that read in a loop, and their globals judged; but bytes after the first
    STOP that do not form a valid stream are data no loader reads, not a problem. A stream
    the loader does read (the first, or each of `max_streams`) must parse completely."""
    n = 0
    while not reader.at_end() and not ctx.stopped:
        if max_streams is not None and n >= max_streams:
            return
        start = reader.pos
        ctx.streams += 1
        n += 1
        read_by_loader = max_streams is not None or n == 1
        try:
            StreamMachine(ctx, reader, member, depth, nested_scanner).run()
        except Truncated:
            if read_by_loader:
                ctx.problem("truncated pickle stream (no STOP before the end of data)", start, member)
            return
        except BadArgument as e:
            if read_by_loader:
                ctx.problem(str(e), reader.pos, member)
            return
        except ScanHalt as e:
            if read_by_loader or e.fatal or isinstance(e, InternalError):
                ctx.problem(str(e), reader.pos, member)
            if e.fatal:
                ctx.stopped = True
            return
    if max_streams is not None and n < max_streams and not ctx.stopped:
        ctx.problem("expected %d pickle streams, found %d" % (max_streams, n), reader.pos, member)
