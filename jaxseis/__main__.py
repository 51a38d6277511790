"""``python -m jaxseis``: the ``jaxseis`` command (:func:`jaxseis.cli.main`)."""

import sys

from jaxseis.cli import main

if __name__ == "__main__":
    sys.exit(main())
