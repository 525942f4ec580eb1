"""Derived facts shared by several rules, computed once per repo view."""
