"""Production mode (HEARTH_ENV=production) and several Rasa and action servers behind nginx
(RASA_REPLICAS, ACTION_REPLICAS)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from hearth import ROOT
from hearth.settings import is_production, machine_problems


def production(env: dict[str, str]) -> bool:
    return is_production(env)


def production_problems(env: dict[str, str]) -> list[str]:
    """In production every secret comes from the environment: the run command makes none, and stops naming what
    is missing (the rules are hearth/settings.py's). SQLite files are for one machine's development only."""
    return machine_problems(env, rasa_replicas=replicas(env, "RASA_REPLICAS"))


def replicas(env: dict[str, str], name: str) -> int:
    value = env.get(name, "1").strip() or "1"
    if not value.isdigit() or not 1 <= int(value) <= 16:
        sys.exit(f"{name} must be a whole number from 1 to 16, not {value!r}")
    return int(value)


NGINX_CONF = """# Written by `python -m hearth`: nginx before {rasa_count} Rasa and {action_count} action servers.
worker_processes 1;
pid {dir}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
    log_format upstream '$remote_addr "$request_method $uri" $status upstream=$upstream_addr $request_time';
    access_log {dir}/access.log upstream;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    # nothing goes to temporary files: the worker may run as another user than the folder's owner
    client_max_body_size 1m;
    client_body_buffer_size 1m;
    proxy_max_temp_file_size 0;
    proxy_buffers 16 64k;
    proxy_http_version 1.1;
    proxy_read_timeout 90s;
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    map $http_upgrade $connection_upgrade {{ default upgrade; "" ""; }}

    # Messages and API calls go round-robin: the Redis lock store keeps each conversation on one server at a
    # time, and every server reads the conversation from the shared tracker store.
    upstream rasa {{
{rasa_servers}
        keepalive 16;
        keepalive_timeout 4s;  # below Sanic's 5 s, so nginx never reuses a connection the server closed
    }}
    # socket.io starts with long-polling, whose requests must reach the server that holds the session:
    # by client address. Replies an agent sends through any server reach the socket through Redis.
    upstream rasa_socketio {{
        hash $remote_addr consistent;
{rasa_servers}
    }}
    upstream actions {{
{action_servers}
        keepalive 16;
        keepalive_timeout 4s;
    }}

    server {{
        listen 127.0.0.1:{rasa_port};
        location /socket.io/ {{
            proxy_pass http://rasa_socketio;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }}
        # A server that dies while handling a message has not saved the turn (Rasa saves the conversation
        # after the turn), so the message is safely handled again by the other one.
        location /webhooks/ {{
            proxy_pass http://rasa;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;
        }}
        location / {{
            proxy_pass http://rasa;
            proxy_set_header Connection "";
        }}
    }}
    server {{
        listen 127.0.0.1:{action_port};
        client_max_body_size 16m;  # Rasa sends the conversation with every action call
        client_body_buffer_size 16m;
        location / {{
            proxy_pass http://actions;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_502 http_503;
        }}
    }}
}}
"""


def replica_ports(env: dict[str, str], kind: str) -> list[int]:
    """The ports of the Rasa (`RASA`) or action (`ACTION`) server replicas: RASA_REPLICA_PORTS /
    ACTION_REPLICA_PORTS (comma-separated), by default the ports after RASA_PORT / ACTION_PORT. With nginx in
    front (either kind replicated), RASA_PORT and ACTION_PORT are nginx's, so even a single server of the other
    kind runs on a port of its own: on its front port it would take nginx's place, and nginx would pass its
    requests to itself."""
    count = replicas(env, f"{kind}_REPLICAS")
    if replicas(env, "RASA_REPLICAS") == 1 and replicas(env, "ACTION_REPLICAS") == 1:
        return [int(env[f"{kind}_PORT"])]
    given = env.get(f"{kind}_REPLICA_PORTS", "")
    if given:
        ports = [int(p) for p in given.split(",") if p.strip().isdigit()]
        if len(ports) != count:
            sys.exit(f"{kind}_REPLICA_PORTS must name {count} ports, not {given!r}")
        return ports
    return [int(env[f"{kind}_PORT"]) + i for i in range(1, count + 1)]


def upstream_servers(ports: list[int]) -> str:
    """nginx's lines for the replicas on `ports`: one that fails 3 times is left out for 5 s."""
    return "\n".join(f"        server 127.0.0.1:{port} max_fails=3 fail_timeout=5s;" for port in ports)


def procfile(env: dict[str, str], data_dir: Path) -> str:
    """The Procfile to run: the repository's for one Rasa server and one action server; with more, a copy in
    the data folder where each replica runs on its own port under a restart loop (as a supervisor would
    restart it) and nginx listens on RASA_PORT and ACTION_PORT in front of them."""
    base = ROOT / "Procfile"
    rasa_ports, action_ports = replica_ports(env, "RASA"), replica_ports(env, "ACTION")
    if len(rasa_ports) == 1 and len(action_ports) == 1:
        return str(base)
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if not nginx:
        sys.exit(
            "RASA_REPLICAS/ACTION_REPLICAS need nginx in front of the replicas: install it (apt-get install nginx)"
        )
    lines = replica_lines(base.read_text().splitlines(), rasa_ports, action_ports)
    conf = nginx_conf(env, data_dir / "nginx", rasa_ports, action_ports)
    lines.append(f"balancer: exec {nginx} -p {conf.parent} -c {conf} -e stderr -g 'daemon off;'")
    target = data_dir / "Procfile"
    target.write_text("\n".join(lines) + "\n")
    return str(target)


def replica_lines(procfile_lines: list[str], rasa_ports: list[int], action_ports: list[int]) -> list[str]:
    """The Procfile's lines with its `rasa` and `actions` lines replaced by one per replica, each on its port
    under a restart loop."""
    lines = []
    for line in procfile_lines:
        name, _, command = line.partition(": ")
        ports = {"rasa": ("RASA_PORT", rasa_ports), "actions": ("ACTION_PORT", action_ports)}.get(name)
        if not ports:
            lines.append(line)
            continue
        variable, numbers = ports
        for i, port in enumerate(numbers, start=1):
            run_once = command.removeprefix("exec ")
            lines.append(
                f"{name}{i}: export {variable}={port}; while true; do {run_once}; "
                f'echo "{name}{i} stopped (exit $?); restarting in 1 s"; sleep 1; done'
            )
    return lines


def nginx_conf(env: dict[str, str], conf_dir: Path, rasa_ports: list[int], action_ports: list[int]) -> Path:
    """nginx's configuration for the replicas, written into `conf_dir` (where nginx also keeps its pid and log)."""
    conf_dir.mkdir(exist_ok=True)
    conf = conf_dir / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            dir=conf_dir,
            rasa_count=len(rasa_ports),
            action_count=len(action_ports),
            rasa_servers=upstream_servers(rasa_ports),
            action_servers=upstream_servers(action_ports),
            rasa_port=env["RASA_PORT"],
            action_port=env["ACTION_PORT"],
        )
    )
    return conf
