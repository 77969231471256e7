"""Start the service: listens on 0.0.0.0:$PORT (default 8000)."""
from __future__ import annotations

import logging
import os

# One CPU: extra BLAS/OpenMP threads only fight over it.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")


def main() -> None:
    import uvicorn

    from service.app import create_app

    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    port = int(os.environ.get("PORT", "8000"))
    host = os.environ.get("HOST", "0.0.0.0")  # a local run may want 127.0.0.1
    uvicorn.run(create_app(), host=host, port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
