"""``python -m tinycnn``: the command line, for a process tinycnn starts itself (a supervised
multi-worker training process)."""

from tinycnn.cli import cli

if __name__ == "__main__":
    cli(prog_name="tinycnn")
