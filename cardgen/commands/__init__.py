"""The commands, one module each: its options (a frozen dataclass), its arguments, and
``run(options) -> (Report, exit code)``. `cli.py` builds the parser from ``MODULES`` and prints the
report through the reporter ``--format`` names.

A command module imports nothing heavy at its top (the parser imports every one of them): the work
is imported inside ``run``, so that `cardgen validate` on a fresh tree stays a pre-commit hook's cost.
"""

#: the modules that hold the commands, in the order `cardgen --help` lists them
MODULES = ("validate", "render", "export", "publish", "smoke", "import_", "preview", "new", "schema", "codes",
           "vocabulary")
