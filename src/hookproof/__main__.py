import sys

from hookproof.cli import main

sys.exit(main())
