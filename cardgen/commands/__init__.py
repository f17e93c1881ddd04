"""The commands, one module each: its options (a frozen dataclass), its arguments, and
``run(options) -> (Report, exit code)``. `cli.py` builds the parser from ``MODULES`` and prints the
report through the reporter ``--format`` names.

A command module imports nothing heavy at its top (the parser imports every one of them): the work
is imported inside ``run``, so that `cardgen validate` on a fresh tree stays a pre-commit hook's cost.
"""

#: each command and the module that holds it, in the order `cardgen --help` lists them: `cardgen NAME ...`
#: imports that module alone (tests/test_commands.py keeps this table and the modules' ``COMMANDS`` in step)
MODULES = {"validate": "validate", "render": "render", "check": "render", "diff": "render", "export": "export",
           "publish": "publish", "smoke": "smoke", "import": "import_", "preview": "preview", "new": "new",
           "schema": "schema", "codes": "codes", "vocabulary": "vocabulary",
           "init": "init", "sync": "sync", "evals": "evals"}
