"""hfcheck: a production-readiness linter for Hugging Face model repositories."""

__version__ = "0.1.0"

# hfcheck is installed from a clone or a git URL (it is on no package index).
SOURCE_URL = "https://github.com/hfcheck/hfcheck"
SMOKE_INSTALL_HINT = "install the smoke extra: pip install '.[smoke]' in a clone of hfcheck, or pip install 'hfcheck[smoke] @ git+https://github.com/hfcheck/hfcheck@<commit>'"

__all__ = ["__version__", "check"]


def __getattr__(name):
    # Lazy so that `hfcheck --version` never pays for the engine's imports.
    if name == "check":
        from hfcheck.api import check

        return check
    raise AttributeError(name)
