"""The `hfcheck` command and `python -m hfcheck`: the CLI, then a quick exit."""

import sys


def run() -> None:
    """Run the CLI and end the process without tearing down the interpreter.

    A check imports ~100 modules and builds ~50 dataclasses; freeing them one by one at
    exit costs ~6 ms, and the cyclic collector running during the imports another ~2 ms:
    together a tenth of checking a 2 GB checkpoint. The output is flushed and the atexit
    handlers run before os._exit; an uncaught exception still ends the normal way, with
    its traceback. In-process tests call hfcheck.cli.main; tests/test_entry.py runs this."""
    import gc
    import os

    # Imports allocate thousands of objects and almost no cycles: collect less often.
    gc.set_threshold(100_000, 50, 100)
    from hfcheck.cli import main

    try:
        main()
        code = 0
    except SystemExit as stop:
        code = stop.code
    except BrokenPipeError:  # `hfcheck rules | head`: the reader left, nothing more to say
        code = 1
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken pipe: nothing more can be written
            pass
    os._exit(code or 0)


if __name__ == "__main__":
    run()
