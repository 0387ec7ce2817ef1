"""Running the product: prepare the CRM, start every process under one runner (honcho, from the Procfile),
tell the person at the keyboard when everything answers, and find a running process by its command line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from hearth import APP_BIN, ROOT
from hearth.production import production, replica_ports
from hearth.train import train

PRIVATE_UMASK = 0o077


def prepare_crm(env: dict[str, str]) -> None:
    """Migrate; fill an empty help centre from data/knowledge/ (embedded once: models/knowledge-*.npz); on embedded
    defaults also add the demo shop's customers and the development console accounts (in production neither:
    accounts are added with `python -m hearth agents add`)."""
    python = str(APP_BIN / "python")
    subprocess.run([python, "-m", "hearth", "migrate"], cwd=ROOT, env=env, check=True)
    subprocess.run([python, "-m", "hearth", "knowledge", "seed"], cwd=ROOT, env=env, check=True)
    if not production(env):
        subprocess.run([python, "-m", "hearth", "seed"], cwd=ROOT, env=env, check=True)
    subprocess.run([python, "-m", "hearth", "values"], cwd=ROOT, env=env, check=True)
    if not production(env):
        subprocess.run([python, "-m", "hearth", "agents", "ensure-dev"], cwd=ROOT, env=env, check=True)


def run(env: dict[str, str]) -> None:
    os.umask(PRIVATE_UMASK)  # inherited by every process started: their databases and files are their owner's only
    prepare_crm(env)
    env["HEARTH_MODEL"] = str(train(env))
    honcho = shutil.which("honcho", path=str(APP_BIN))
    assert honcho, "honcho missing from .venvs/app: run scripts/bootstrap.sh"
    os.chdir(ROOT)
    os.execve(honcho, [honcho, "-f", env["HEARTH_PROCFILE"], "-d", str(ROOT), "--no-colour", "start"], env)


def wait_until_ready(env: dict[str, str], timeout: float = 300) -> None:
    """Used by the runner's 'ready' process: tells the person at the keyboard where to talk to the bot."""
    started = time.monotonic()
    for url in ready_urls(env):
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() - started > timeout:
                    print(f"not ready after {timeout:.0f} s: {url}", flush=True)
                    sys.exit(1)
                time.sleep(0.5)
    print(ready_message(env, time.monotonic() - started), flush=True)
    while True:  # stay alive: the runner stops all processes when one exits
        time.sleep(3600)


def ready_urls(env: dict[str, str]) -> list[str]:
    """What must answer, each address once: every replica, then the front addresses (nginx's, when replicated)."""
    replicas_up = [f"http://127.0.0.1:{p}/" for p in replica_ports(env, "RASA")]
    replicas_up += [f"http://127.0.0.1:{p}/health" for p in replica_ports(env, "ACTION")]
    front = (
        f"http://127.0.0.1:{env['RASA_PORT']}/",
        f"http://127.0.0.1:{env['ACTION_PORT']}/health",
        f"http://127.0.0.1:{env['CONSOLE_PORT']}/health",
        f"http://127.0.0.1:{env['WEBSITE_PORT']}/health",
    )
    return list(dict.fromkeys((*replicas_up, *front)))


def ready_message(env: dict[str, str], seconds: float) -> str:
    rasa = f"http://127.0.0.1:{env['RASA_PORT']}"
    console = f"http://127.0.0.1:{env['CONSOLE_PORT']}"
    website = f"http://127.0.0.1:{env['WEBSITE_PORT']}"
    return (
        f"\n  Hearth is ready ({seconds:.0f} s).\n"
        f"  Web chat on the demo shop's website: {website}/  (sign in as anna.berg@example.com, password\n"
        f"  WEBSITE_DEMO_PASSWORD, by default 'juniper', and Juno greets you by name).\n"
        f"  Talk to the bot over REST:\n"
        f"    curl -s -X POST {rasa}/webhooks/rest/webhook -H 'Content-Type: application/json' \\\n"
        f'         -H "Authorization: Bearer $(cat {env["HEARTH_DATA_DIR"]}/rest_client_token)" \\\n'
        f'         -d \'{{"sender": "demo-anna", "message": "hi"}}\'\n'
        f"  ('demo-anna' is a seeded returning customer; any other sender starts anonymous.)\n"
        f"  Agent console: {console}/ (sign in as `agent` or `admin`; passwords CONSOLE_AGENT_PASSWORD /\n"
        f"  CONSOLE_ADMIN_PASSWORD or, in development, the files console_agent_password / console_admin_password\n"
        f"  in the data folder {env['HEARTH_DATA_DIR']}).\n"
        f"  Stop everything with Ctrl-C.\n"
    )


def processes(data_dir: Path, marker: bytes) -> list[int]:
    """Pids of this product's processes that run with `data_dir` and whose command line contains `marker`
    (arguments are NUL-separated: b"bot.run_rasa\x00run", b"hearth\x00ingest" -- not the shell loop that
    restarts it); for benchmarks and tests that watch or kill one."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker not in (proc / "cmdline").read_bytes():
                continue
            if f"HEARTH_DATA_DIR={data_dir}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            continue  # gone, or not ours to read
    return found
