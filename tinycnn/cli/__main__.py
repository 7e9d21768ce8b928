"""``python -m tinycnn.cli``: the command line."""

from tinycnn.cli import cli

if __name__ == "__main__":
    cli(prog_name="tinycnn")
