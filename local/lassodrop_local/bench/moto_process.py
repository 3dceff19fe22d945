"""moto's server in a process of its own: `python -m lassodrop_local.bench.moto_process`.

Prints its endpoint URL on the first line, then serves until its standard input closes, so it cannot outlive
the benchmark that started it even when that one is killed.
"""

import sys

from moto.server import ThreadedMotoServer


def main() -> int:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"http://{host}:{port}", flush=True)
    sys.stdin.read()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
