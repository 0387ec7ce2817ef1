"""`rasa run ...` with the settings that must not, or need not, be on the command line:

- the key of the HTTP API from RASA_API_TOKEN: Rasa checks a JWT signed with it (HS256) in each request's
  `Authorization: Bearer` header (`--jwt-secret`, `--jwt-method`). Rasa reads the key only from its command line,
  which every local user can read (`ps`, /proc/<pid>/cmdline), and Rasa's `--auth-token` would be sent in URLs
  (`?token=`), which access logs keep: neither is used;
- the address to listen on from BIND_ADDRESS (the loopback address unless configured: `--interface` wins);
- the origins allowed by CORS from WEB_CHAT_ORIGINS (shared/web_origins.py): the website's own, never any page.

The flags are added inside the process, where the command line the system shows no longer changes:

    python -m bot.run_rasa run --model ... --enable-api
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from shared import blas, web_origins

JWT_METHOD = "HS256"  # what the console signs with (crm_adapter/rasa_api.py)
KEY_FLAGS = ("--auth-token", "--jwt-secret", "--jwt-method", "--jwt-private-key")


def arguments(argv: list[str], env: Mapping[str, str]) -> list[str]:
    """`argv` with the flags taken from `env`; SystemExit with the reason for what must not be on a command line."""
    given = [flag for flag in KEY_FLAGS if any(arg == flag or arg.startswith(flag + "=") for arg in argv)]
    if given:
        sys.exit(f"give the HTTP API's key in RASA_API_TOKEN, not on the command line ({', '.join(given)})")
    if any(arg == "--cors" or arg.startswith("--cors=") for arg in argv):
        sys.exit(f"give the website's origins in {web_origins.VARIABLE}, not with --cors")
    try:
        origins = web_origins.parse(env.get(web_origins.VARIABLE))
    except ValueError as exc:
        sys.exit(str(exc))
    argv = list(argv)
    key = env.get("RASA_API_TOKEN", "").strip()
    if key:
        argv += ["--jwt-secret", key, "--jwt-method", JWT_METHOD]
    if "--interface" not in argv and "-i" not in argv:
        argv += ["--interface", env.get("BIND_ADDRESS") or "127.0.0.1"]
    if origins:
        argv += ["--cors", *origins]
    return argv


def main() -> None:
    sys.argv = arguments(sys.argv, os.environ)
    blas.one_thread()  # before Rasa loads NumPy
    from rasa.__main__ import main as rasa_main

    import bot.rasa_patches  # noqa: F401 - before the server starts taking requests (bot/tracker_store.py does too)

    rasa_main()


if __name__ == "__main__":
    main()
