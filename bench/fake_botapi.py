"""Run the tests' fake Bot API in its own process for benchmarks (so it does not share the
client's GIL). Prints its API URL, then answers 'stats' on stdin with one JSON line; 'quit'
or end of input stops it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.telegram_api import FakeTelegram, _max_in_window


def main() -> None:
    latency = float(sys.argv[1]) if len(sys.argv) > 1 else 0.02
    token = sys.argv[2] if len(sys.argv) > 2 else "123:BENCH"
    with FakeTelegram(token=token, latency=latency) as fake:
        print(fake.api_url, flush=True)
        for line in sys.stdin:
            command, _, arg = line.strip().partition(" ")
            if command == "stats":
                sent = fake.sent[int(arg or 0) :]  # "stats N": only sends after the first N
                chats = [m.chat_id for m in sent]
                print(
                    json.dumps(
                        {
                            "sent": len(sent),
                            "distinct": len(set(chats)),
                            "max_per_second": _max_in_window(sorted(m.at for m in sent), 1.0),
                            "first": sent[0].at if sent else None,
                            "last": sent[-1].at if sent else None,
                        }
                    ),
                    flush=True,
                )
            elif command == "quit":
                break


if __name__ == "__main__":
    main()
