"""Command line for the datasets: ``python -m utils.data fetch [NAME ...] [--verify] [--list]``."""

import sys

from utils.data.download import main as fetch_main


def main(argv: list[str]) -> int:
    commands = {"fetch": fetch_main}
    if not argv or argv[0] not in commands:
        print(f"usage: python -m utils.data {{{','.join(commands)}}} [options]", file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
