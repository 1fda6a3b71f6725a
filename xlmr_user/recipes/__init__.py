"""Helpers the shell recipes in examples/ call (reading fairseq logs, writing
results.json)."""
