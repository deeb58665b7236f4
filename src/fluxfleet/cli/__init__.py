"""Thin commands: parse arguments, call the core, print, return an exit code."""
