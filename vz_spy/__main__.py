"""`python -m vz_spy` runs the `vz-spy` command line."""

import sys

from vz_spy import main

if __name__ == "__main__":
    sys.exit(main())
