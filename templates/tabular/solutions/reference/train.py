"""Train at image build time: data/train.csv -> model/model.joblib (the service also trains lazily)."""
from __future__ import annotations

import logging
import os
import sys

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

from service.training import data_path, save, train  # noqa: E402


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    path = data_path()
    if not path.is_file():
        print(f"error: no training data at {path}", file=sys.stderr)
        return 2
    bundle = train(path)
    where = save(bundle)
    print(f"trained on {bundle.trained_rows} rows; {bundle.summary()}; saved to {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
