"""The top-level commands: the module that defines each, and each one's line in ``sudoless --help``.

Both tables are read before click is imported: :mod:`sudoless.cli.root` imports only the module a command line
names (:data:`COMMAND_MODULES`), and :func:`sudoless.cli.main` prints ``sudoless --help`` from
:data:`COMMAND_SUMMARIES` without click at all (:func:`overview`). tests/cli/test_contract.py checks both
against what click registers and prints.
"""

from __future__ import annotations

__all__ = ["COMMAND_MODULES", "COMMAND_SUMMARIES", "HELP_COLUMNS", "overview", "terminal_columns"]

#: The module of :mod:`sudoless.cli` that defines each top-level command. A command line that names one of them
#: imports that module alone instead of all fourteen: ``sudoless flow run`` spent about 31 M instructions
#: (2 % of a one-job run) building command groups it never uses. An unknown name and a name missing here
#: register everything (:func:`~sudoless.cli.root.register_commands`); tests/cli/test_contract.py checks this
#: table against the full registration.
COMMAND_MODULES = {
    "azkaban": "azkaban",
    "backup": "backup",
    "restore": "backup",
    "clean": "clean",
    "flow": "flow",
    "executor": "flow",
    "decipher": "mcmc",
    "encipher": "mcmc",
    "mcmc": "mcmc",
    "mysql": "mysql",
    "nn": "nn",
    "pack": "pack",
    "routes": "routes",
    "server": "server",
    "cert": "server",
    "spark": "spark",
    "token": "token",
    "user": "user",
}

#: Each top-level command's line in ``sudoless --help``, as click shows it in a terminal of at least
#: :data:`HELP_COLUMNS` columns (the first sentence of the command's docstring, cut to fit), in click's order.
#: :func:`sudoless.cli.main` prints the top-level help from this table without importing click or the commands;
#: tests/cli/test_contract.py checks that it is exactly what click prints from the full registration.
COMMAND_SUMMARIES = {
    "azkaban": "Move an existing Azkaban installation to sudoless.",
    "backup": "Back up the database (every table, one consistent snapshot)...",
    "cert": "Make a self-signed TLS certificate and key (PEM) in...",
    "clean": "Remove finished executions' directories past...",
    "decipher": "Break a substitution cipher by Metropolis search over keys;...",
    "encipher": "Encipher a text with a simple substitution key (case and...",
    "executor": "Run an executor that claims queued executions from a shared...",
    "flow": "Azkaban-compatible flows: Flow 1.0 (.job) and Flow 2.0...",
    "mcmc": "Markov chain Monte Carlo tools: language models for the...",
    "mysql": "MySQL or MariaDB servers run as you, in SUDOLESS_HOME,...",
    "nn": "Neural networks on NumPy: train from a YAML config, evaluate...",
    "pack": "Pack a virtual environment for spark-submit --archives (pack...",
    "restore": "Restore a backup folder into this home's database (or --db),...",
    "routes": "Plan one route per dispatcher from a depot (VRPLIB/TSPLIB,...",
    "server": "Serve Azkaban's web API (login, projects, executions,...",
    "spark": "Apache Spark without root: Java, a local cluster, and apps...",
    "token": "API tokens: what scripts use instead of a password, limited...",
    "user": "Users, passwords and project permissions of the sudoless server.",
}

#: Click fits its help into the terminal's width up to 80 columns: from this width on, it prints the same text
#: whatever the terminal, the text :func:`overview` gives; narrower terminals get click's own.
HELP_COLUMNS = 80

_OVERVIEW_HEAD = """\
Usage: sudoless [OPTIONS] COMMAND [ARGS]...

  Workflows, databases and compute for people without root.

Options:
  -v, --verbose  More log output on stderr (-vv for debug).
  --version      Show the version and exit.
  -h, --help     Show this message and exit.

Commands:
"""


def overview() -> str:
    """``sudoless --help`` as click prints it in a terminal of at least :data:`HELP_COLUMNS` columns."""
    width = max(len(name) for name in COMMAND_SUMMARIES)
    lines = (f"  {name:<{width}}  {summary}".rstrip() for name, summary in COMMAND_SUMMARIES.items())
    return _OVERVIEW_HEAD + "\n".join(lines) + "\n"


def terminal_columns() -> int:
    """The terminal's width as click reads it (``COLUMNS``, else standard output's terminal, else 80)."""
    import shutil  # here: about 8 M instructions (its compression modules), which only ``--help`` needs

    return shutil.get_terminal_size().columns
