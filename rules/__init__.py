"""hfcheck's built-in rules: one module per concern. Installed as `hfcheck.rules`.

Each rule is a function of the repo view that yields `Finding.at(...)`; its docstring is
its documentation (`hfcheck explain CODE`)."""
