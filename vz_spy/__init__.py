"""vz_spy: the `vz-spy` command line, on top of vz_env, agents and algorithms (`python -m vz_spy`)."""

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the `vz-spy` command line with `argv` (default: sys.argv[1:]); returns the exit status."""
    from vz_spy.cli import main as cli_main

    return cli_main(argv)
