"""``python -m storage revision "what changed"``: autogenerate a journal migration after a model change."""

import sys

from storage.migrate import new_revision

if len(sys.argv) != 3 or sys.argv[1] != "revision":
    print('usage: python -m storage revision "what changed"', file=sys.stderr)
    sys.exit(2)
new_revision(sys.argv[2])
