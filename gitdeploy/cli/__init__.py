"""The command line: parse options, call one operation, render. No logic here."""
