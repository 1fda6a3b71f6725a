"""Benchmarks: the plugin against fairseq's built-ins, side by side.

    python -m bench wt2-mini [--budget-minutes 20] [--concurrent]

Each run prints a Markdown table and writes bench/results/<date>-<name>.{json,md}.
Speed targets live here, never in the tests.
"""
