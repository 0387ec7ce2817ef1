"""`rasa run ...` with the settings that must not, or need not, be on the command line:

- the HTTP API's token from RASA_API_TOKEN: Rasa reads it only from `--auth-token`, and a command line is readable
  by every local user (`ps`, /proc/<pid>/cmdline);
- the address to listen on from BIND_ADDRESS (the loopback address unless configured: `--interface` wins);
- the origins allowed by CORS from WEB_CHAT_ORIGINS (shared/web_origins.py): the website's own, never any page.

The flags are added inside the process, where the command line the system shows no longer changes:

    python -m bot.run_rasa run --model ... --enable-api
"""

from __future__ import annotations

import os
import sys

from shared import web_origins


def main() -> None:
    token = os.environ.get("RASA_API_TOKEN", "")
    if "--auth-token" in sys.argv:
        sys.exit("give the token in RASA_API_TOKEN, not on the command line")
    if "--cors" in sys.argv:
        sys.exit(f"give the website's origins in {web_origins.VARIABLE}, not with --cors")
    try:
        origins = web_origins.parse(os.environ.get(web_origins.VARIABLE))
    except ValueError as exc:
        sys.exit(str(exc))
    if token:
        sys.argv += ["--auth-token", token]
    if "--interface" not in sys.argv and "-i" not in sys.argv:
        sys.argv += ["--interface", os.environ.get("BIND_ADDRESS") or "127.0.0.1"]
    if origins:
        sys.argv += ["--cors", *origins]
    from rasa.__main__ import main as rasa_main

    import bot.rasa_patches  # noqa: F401 - before the server starts taking requests (bot/tracker_store.py does too)

    rasa_main()


if __name__ == "__main__":
    main()
