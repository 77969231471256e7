"""Start the service on 0.0.0.0:$PORT (default 8000). The grader runs `python serve.py`."""
import os

import uvicorn

from service.main import create_app

if __name__ == "__main__":
    uvicorn.run(create_app(), host="0.0.0.0", port=int(os.environ.get("PORT", "8000")))
