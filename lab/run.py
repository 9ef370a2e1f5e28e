"""``make run``: the service on http://127.0.0.1:8000 against local lab servers, until Ctrl-C."""

import os
import signal
import subprocess
import sys

from lab.servers import running_lab


def _stop(signum: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C: the service is stopped, then the lab's servers and files."""
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    port = os.environ.get("PORT", "8000")
    with running_lab() as lab:
        print(f"lab: PostgreSQL primary :{lab.primary.port}, standby :{lab.standby.port}, Redis :{lab.redis.port}")
        print(f"service: http://127.0.0.1:{port}  (try /ready, /products/1; Ctrl-C stops everything)", flush=True)
        try:
            return subprocess.call(lab.service_command(), env=lab.service_env(int(port)))
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
