"""`python -m vz_env` runs the `vz-spy` command line."""

import sys

from vz_env.cli import main

if __name__ == "__main__":
    sys.exit(main())
