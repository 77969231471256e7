"""Start the service on 0.0.0.0:$PORT (default 8000). The grader runs `python serve.py`."""
import os

import uvicorn

from service.main import create_app

if __name__ == "__main__":
    # 0.0.0.0 inside a container; set HOST=127.0.0.1 to keep a local run private.
    uvicorn.run(create_app(), host=os.environ.get("HOST", "0.0.0.0"), port=int(os.environ.get("PORT", "8000")))
