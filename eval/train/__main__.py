"""``python -m eval.train``: the whole training pipeline (``eval.train.pipeline``)."""

import sys

from eval.train.pipeline import main

sys.exit(main())
