"""``python -m app [--workers N]``: run the service (config from HA_* env vars, or HA_SSM_PATH on AWS)."""

import argparse

from app.main import run

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
parser.add_argument("--host", default="0.0.0.0", help="address to listen on")
options = parser.parse_args()
run(host=options.host, workers=options.workers)
