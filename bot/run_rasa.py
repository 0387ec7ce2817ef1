"""`rasa run ...` with the HTTP API's token taken from RASA_API_TOKEN instead of the command line.

Rasa reads its token only from `--auth-token`, and a command line is readable by every local user (`ps`,
/proc/<pid>/cmdline). Here the flag is added inside the process, where the command line the system shows no
longer changes:

    python -m bot.run_rasa run --model ... --enable-api
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    token = os.environ.get("RASA_API_TOKEN", "")
    if "--auth-token" in sys.argv:
        sys.exit("give the token in RASA_API_TOKEN, not on the command line")
    if token:
        sys.argv += ["--auth-token", token]
    from rasa.__main__ import main as rasa_main

    import bot.rasa_patches  # noqa: F401 - before the server starts taking requests (bot/tracker_store.py does too)

    rasa_main()


if __name__ == "__main__":
    main()
