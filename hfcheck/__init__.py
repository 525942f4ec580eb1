"""hfcheck: a production-readiness linter for Hugging Face model repositories."""

__version__ = "0.1.0"

__all__ = ["__version__", "check"]


def __getattr__(name):
    # Lazy so that `hfcheck --version` never pays for the engine's imports.
    if name == "check":
        from hfcheck.api import check

        return check
    raise AttributeError(name)
