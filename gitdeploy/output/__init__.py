"""Rendering results for people (text, colour on a TTY only) and for machines (JSON).

Results go to stdout; progress, warnings and errors go to stderr.
"""
