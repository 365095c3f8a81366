"""`python3 -m cerebro_train.import SOURCE --out BUNDLE.pt ...`: cerebro_train.importer's
command line (a module cannot be imported as `import`, but `-m` runs it)."""

import sys

from cerebro_train.importer import main

if __name__ == "__main__":
    sys.exit(main())
