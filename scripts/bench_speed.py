"""Speed benchmark: the shipped bot against a stock Rasa bot, on the real servers, over REST.

    .venvs/app/bin/python scripts/bench_speed.py            # both bots, full run (about 15 minutes)
    .venvs/app/bin/python scripts/bench_speed.py --skip-reference --conversations 5 --turns 4 \
        --long-turns 20 --sessions 5

The reference is what `rasa init --no-prompt` creates with Rasa 3.6.21 (its default config and
in-memory tracker store); it is created and trained once into var/bench/ and reused. Hearth is
started with its own run command (`python -m hearth run`: Rasa server, action server, history
ingestion) on a fresh data folder, so its figures include the CRM work each reply causes. A Rasa
server answers on one core (one event loop); Hearth is measured as `hearth` with one Rasa server
and, with --rasa-replicas 1,2 (the default), again as `hearth_2` with two behind nginx
(RASA_REPLICAS=2 with the Redis lock store at --redis-url, as the operator guide runs several): the
second core then serves messages too. Without nginx or Redis the two-server run is left out, saying why.

For each bot, in this order:
  ready      seconds from starting the processes to the first answered message
  single     one conversation, replies one after another: p50/p95 reply time
  load       N concurrent conversations (default 20) of 30 turns each: p50/p95/p99 reply time, replies per second,
             errors (HTTP errors, and replies that are the apology for a failed custom action), and the CPU time
             each process spent per reply (Hearth's: Rasa server(s), action server, history ingestion, nginx)
  long       one conversation of 200 turns: median reply time of the first 10 and of the last 10 turns
  sessions   one returning customer, 50 sessions (each opened with /session_start): median reply time
             in the first and in the last session
  memory     peak resident memory (RSS) of the Rasa server and, for Hearth, its other processes
  nlu_parse  before the bot is served: its trained model parses the 1,373 messages of
             docs/nlu-real-customers-set.yml one after another (scripts/parse_messages.py --timings)
Hearth's conversations are multi-turn and touch the CRM: verification against the CRM, order
status, loyalty points (reads), a complaint ticket and the channel link (writes), plus history
ingestion of every event. Results: JSON (--out) and a plot (--plot); docs/measurements.md cites them.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_stamp import stamp  # noqa: E402 - this folder, which a script run by path has on sys.path

from hearth.processes import processes  # noqa: E402

RASA = ROOT / ".venvs" / "rasa" / "bin" / "rasa"
APP_PYTHON = ROOT / ".venvs" / "app" / "bin" / "python"
BENCH_DIR = ROOT / "var" / "bench"

HEARTH_SCRIPT = [
    "hi",
    "where is my order",
    "{email}",
    "{order}",
    "thanks",
    "what are your opening hours",
    "how many loyalty points do I have",
    "I want to make a complaint",
    "The parcel was left out in the rain and the box was soaked through",
    "bye",
]
DEMO = [
    ("anna.berg@example.com", "JH100001"),
    ("omar.haddad@example.com", "JH100002"),
    ("lucy.chen@example.com", "JH100003"),
]
REFERENCE_SCRIPT = ["hi", "I am sad", "yes", "are you a bot?", "great, thanks", "no", "I'm feeling very good", "bye"]
LONG_HEARTH = ["what are your opening hours", "do you deliver abroad", "thanks", "are you a bot", "how do returns work"]
LONG_REFERENCE = ["hi", "I am great", "are you a bot?", "bye", "I'm sad"]


def apology() -> str:
    """What the customer is told when a custom action failed (bot/rasa_patches.py's APOLOGY, from the domain)."""
    import yaml

    responses = yaml.safe_load((ROOT / "bot" / "domain" / "core.yml").read_text())["responses"]
    return str(responses["utter_crm_unavailable"][0]["text"])


APOLOGY = apology()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (children excluded)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))] if ordered else 0.0


def stats(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {
        "count": len(ms),
        "p50_ms": round(pct(ms, 50), 1),
        "p95_ms": round(pct(ms, 95), 1),
        "p99_ms": round(pct(ms, 99), 1),
        "mean_ms": round(statistics.fmean(ms), 1) if ms else 0.0,
    }


@dataclass
class Bot:
    name: str
    url: str
    script: list[str]
    long_script: list[str]
    process: subprocess.Popen[bytes]
    headers: dict[str, str] = field(default_factory=dict)  # Hearth's REST channel needs an integration's token
    memory_pids: dict[str, list[int]] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def say(self, session: requests.Session, sender: str, text: str) -> float:
        started = time.perf_counter()
        try:
            response = session.post(
                f"{self.url}/webhooks/rest/webhook",
                json={"sender": sender, "message": text},
                headers=self.headers,
                timeout=60,
            )
            if response.status_code != 200 or not isinstance(response.json(), list):
                self.errors.append(f"{response.status_code}: {response.text[:200]}")
            elif any(APOLOGY in str(reply.get("text", "")) for reply in response.json()):
                self.errors.append(f"a custom action failed: {text!r} got the apology")  # fast, but not an answer
        except (requests.RequestException, ValueError) as exc:
            self.errors.append(repr(exc)[:200])
        return time.perf_counter() - started

    def sample_memory(self, stop: threading.Event) -> None:
        while not stop.wait(0.5):
            for role, pids in self.memory_pids.items():
                self.peak_mb[role] = max(self.peak_mb.get(role, 0.0), sum(rss_mb(p) for p in pids))


def wait_ready(
    url: str, started: float, process: subprocess.Popen[bytes], headers: dict[str, str], timeout: float = 600
) -> float:
    with requests.Session() as session:
        while time.monotonic() - started < timeout:
            if process.poll() is not None:
                raise RuntimeError("the server exited before it was ready")
            try:
                response = session.post(
                    f"{url}/webhooks/rest/webhook",
                    json={"sender": "bench-ready", "message": "hi"},
                    headers=headers,
                    timeout=30,
                )
                if response.status_code == 200 and response.json():
                    return time.monotonic() - started
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.2)
    raise RuntimeError(f"not ready after {timeout:.0f} s")


def reference_project() -> tuple[Path, float | None]:
    """`rasa init --no-prompt` (which also trains) once; later runs reuse the project and model."""
    project = BENCH_DIR / "reference-rasa-3.6.21"
    if list((project / "models").glob("*.tar.gz")):
        return project, None
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    print("==> creating and training the reference bot (rasa init) ...", flush=True)
    started = time.monotonic()
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    subprocess.run([str(RASA), "init", "--no-prompt", "--init-dir", str(project)], cwd=project, env=env, check=True)
    return project, time.monotonic() - started


def launch(
    command: list[str], cwd: Path, env: dict[str, str], url: str, headers: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], float]:
    """Starts a server in its own process group; returns it and the seconds until it answered."""
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    return process, wait_ready(url, started, process, headers or {})


def start_reference(project: Path) -> tuple[Bot, float]:
    port = free_port()
    model = sorted((project / "models").glob("*.tar.gz"))[-1]
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    command = [str(RASA), "run", "--model", str(model), "--port", str(port), "--credentials", "credentials.yml"]
    url = f"http://127.0.0.1:{port}"
    process, ready = launch(command, project, env, url)
    bot = Bot("reference", url, REFERENCE_SCRIPT, LONG_REFERENCE, process)
    bot.memory_pids = {"rasa_server": [process.pid]}
    return bot, ready


def start_hearth(data_dir: Path, rasa_replicas: int = 1, redis_url: str = "") -> tuple[Bot, float]:
    """`python -m hearth run` on a fresh data folder; with `rasa_replicas` > 1, that many Rasa servers behind nginx
    sharing the tracker store, conversations locked in Redis at `redis_url`. The model is trained before (main)."""
    rasa_port, action_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CRM_", "TRACKER_", "ACTION_", "RASA_PORT", "RASA_REPLICA", "REDIS_URL"))
    }
    token = secrets.token_hex(32)  # the benchmark's own REST integration, which vouches for its senders
    env.update(HEARTH_DATA_DIR=str(data_dir), RASA_PORT=str(rasa_port), ACTION_PORT=str(action_port))
    env.update(REST_CLIENTS=f"bench:{token}:vouches")
    if rasa_replicas > 1:
        ports = [free_port() for _ in range(rasa_replicas + 1)]
        env.update(RASA_REPLICAS=str(rasa_replicas), REDIS_URL=redis_url)
        env.update(RASA_REPLICA_PORTS=",".join(map(str, ports[:-1])), ACTION_REPLICA_PORTS=str(ports[-1]))
    url, headers = f"http://127.0.0.1:{rasa_port}", {"Authorization": f"Bearer {token}"}
    process, ready = launch([str(APP_PYTHON), "-m", "hearth", "run"], ROOT, env, url, headers)
    name = "hearth" if rasa_replicas == 1 else f"hearth_{rasa_replicas}"
    bot = Bot(name, url, HEARTH_SCRIPT, LONG_HEARTH, process, headers)
    bot.memory_pids = {
        "rasa_server": processes(data_dir, b"bot.run_rasa\x00run"),
        "action_server": processes(data_dir, b"actions.serve"),
        "history_ingestion": processes(data_dir, b"hearth\x00ingest"),
    }
    if rasa_replicas > 1:
        bot.memory_pids["nginx"] = nginx_pids(data_dir)
    return bot, ready


def nginx_pids(data_dir: Path) -> list[int]:
    """nginx's master (its command line names the data folder; nginx clears its environment) and its workers."""
    masters, parents = [], {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if str(data_dir / "nginx").encode() in (proc / "cmdline").read_bytes():
                masters.append(int(proc.name))
            parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return masters + [pid for pid, parent in parents.items() if parent in masters]


def replicas_missing(redis_url: str) -> str | None:
    """Why several Rasa servers cannot run here (nginx or Redis missing), or None."""
    if not (shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")):
        return "nginx is not installed (apt-get install nginx)"
    parsed = urllib.parse.urlsplit(redis_url)
    try:
        socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=2).close()
    except OSError as exc:
        return f"Redis does not answer at {redis_url} ({exc})"
    return None


def stop(bot: Bot) -> None:
    stop_process(bot.process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C to the process group (the run command stops every process), then SIGKILL after 30 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def parse_timings(model: Path) -> dict[str, float]:
    """NLU parse times of the customers' messages through the bot's trained model, in-process, no server running."""
    result = subprocess.run(
        [str(ROOT / ".venvs" / "rasa" / "bin" / "python"), str(ROOT / "scripts" / "parse_messages.py"), str(model),
         "--timings", "--from-nlu", str(ROOT / "docs" / "nlu-real-customers-set.yml")],
        capture_output=True, text=True, cwd=ROOT, check=True, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
    )  # fmt: skip
    return stats(json.loads(result.stdout.strip().splitlines()[-1]))


def conversation(bot: Bot, sender: str, index: int, turns: int) -> list[float]:
    email, order = DEMO[index % len(DEMO)]
    times = []
    with requests.Session() as session:
        for turn in range(turns):
            text = bot.script[turn % len(bot.script)].format(email=email, order=order)
            times.append(bot.say(session, sender, text))
    return times


def measure(bot: Bot, args: argparse.Namespace, tag: str) -> dict[str, object]:
    stop_sampling = threading.Event()
    sampler = threading.Thread(target=bot.sample_memory, args=(stop_sampling,), daemon=True)
    sampler.start()
    result: dict[str, object] = {}
    conversation(bot, f"{tag}-warmup", 0, len(bot.script))

    print(f"  [{bot.name}] single conversation ...", flush=True)
    single = []
    for n in range(args.single_conversations):
        single += conversation(bot, f"{tag}-single-{n}", n, len(bot.script))
    result["single"] = stats(single)

    print(f"  [{bot.name}] {args.conversations} concurrent conversations x {args.turns} turns ...", flush=True)
    errors_before = len(bot.errors)
    cpu_before = {role: cpu_seconds(pids) for role, pids in bot.memory_pids.items()}
    started = time.perf_counter()
    with ThreadPoolExecutor(args.conversations) as pool:
        runs = list(pool.map(lambda n: conversation(bot, f"{tag}-load-{n}", n, args.turns), range(args.conversations)))
    elapsed = time.perf_counter() - started
    load = [t for run in runs for t in run]
    result["load"] = {
        **stats(load),
        "conversations": args.conversations,
        "seconds": round(elapsed, 2),
        "replies_per_s": round(len(load) / elapsed, 2),
        "errors": len(bot.errors) - errors_before,
        # CPU each server spent per reply: steadier than replies/s when the machine's speed varies
        "cpu_ms_per_reply": {
            role: round((cpu_seconds(pids) - cpu_before[role]) * 1000 / max(1, len(load)), 1)
            for role, pids in bot.memory_pids.items()
        },
    }

    print(f"  [{bot.name}] one conversation of {args.long_turns} turns ...", flush=True)
    long_times = []
    with requests.Session() as session:
        for turn in range(args.long_turns):
            long_times.append(bot.say(session, f"{tag}-long", bot.long_script[turn % len(bot.long_script)]))
    head, tail = long_times[1:11], long_times[-10:]  # turn 1 also starts the session
    result["long"] = {
        "turns": args.long_turns,
        "first_10_median_ms": round(statistics.median(head) * 1000, 1),
        "last_10_median_ms": round(statistics.median(tail) * 1000, 1),
        "ratio": round(statistics.median(tail) / statistics.median(head), 2),
        "per_turn_ms": [round(t * 1000, 1) for t in long_times],
    }

    print(f"  [{bot.name}] a returning customer over {args.sessions} sessions ...", flush=True)
    sender = "demo-anna" if bot.name.startswith("hearth") else f"{tag}-returning"  # seeded and linked: returning
    per_session = []
    with requests.Session() as session:
        for _ in range(args.sessions):
            bot.say(session, sender, "/session_start")
            per_session.append(statistics.median(bot.say(session, sender, t) for t in bot.long_script))
    result["sessions"] = {
        "sessions": args.sessions,
        "first_session_median_ms": round(per_session[0] * 1000, 1),
        "last_session_median_ms": round(per_session[-1] * 1000, 1),
        "ratio": round(per_session[-1] / per_session[0], 2),
        "per_session_ms": [round(t * 1000, 1) for t in per_session],
    }
    stop_sampling.set()
    sampler.join()
    result["memory_peak_mb"] = {role: round(mb, 0) for role, mb in bot.peak_mb.items()}
    result["errors"] = len(bot.errors)
    result["error_samples"] = bot.errors[:5]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=20)
    # 30: 600 replies under load; with 10 (200 replies, a few seconds) the ratio moved by a third between runs
    parser.add_argument("--turns", type=int, default=30, help="turns per concurrent conversation")
    parser.add_argument("--single-conversations", type=int, default=3)
    parser.add_argument("--long-turns", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--skip-reference", action="store_true", help="measure Hearth only")
    parser.add_argument(
        "--rasa-replicas",
        type=lambda v: sorted({int(n) for n in v.split(",")}),
        default=[1, 2],
        help="Hearth's numbers of Rasa servers to measure, comma-separated (default 1,2)",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/1", help="the lock store for several servers")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "measurements" / "speed.json")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "measurements" / "speed.png")
    args = parser.parse_args()
    tag = f"bench{int(time.time())}"
    report: dict[str, object] = {
        **stamp(),
        "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    bots: dict[str, dict[str, object]] = {}
    if not args.skip_reference:
        project, trained = reference_project()
        print("==> reference: NLU parse times, then `rasa init`'s bot served", flush=True)
        parse = parse_timings(sorted((project / "models").glob("*.tar.gz"))[-1])
        bot, ready = start_reference(project)
        try:
            bots["reference"] = {
                "ready_s": round(ready, 1), "init_and_train_s": trained, "nlu_parse": parse, **measure(bot, args, tag)
            }  # fmt: skip
        finally:
            stop(bot)
    print("==> hearth: NLU parse times, then python -m hearth run", flush=True)
    subprocess.run([str(APP_PYTHON), "-m", "hearth", "train"], cwd=ROOT, check=True)
    from hearth.train import model_path

    parse = parse_timings(model_path())
    for count in args.rasa_replicas:
        why_not = replicas_missing(args.redis_url) if count > 1 else None
        if why_not:
            print(f"==> hearth with {count} Rasa servers left out: {why_not}", flush=True)
            report.setdefault("left_out", {})[f"hearth_{count}"] = why_not  # type: ignore[index]
            continue
        print(f"==> hearth, {count} Rasa server(s)", flush=True)
        data_dir = BENCH_DIR / f"hearth-{tag}-{count}"
        bot, ready = start_hearth(data_dir, count, args.redis_url)
        try:
            figures = {"ready_s": round(ready, 1), "rasa_servers": count, "nlu_parse": parse}
            bots[bot.name] = {**figures, **measure(bot, args, f"{tag}-{count}")}
        finally:
            stop(bot)
            shutil.rmtree(data_dir, ignore_errors=True)
    report["bots"] = bots
    if "reference" in bots:
        ref = bots["reference"]
        ratios = {}
        for name, ours in bots.items():
            if name != "reference":
                suffix = name.removeprefix("hearth")  # "" for one Rasa server, "_2" for two
                ratios[f"throughput{suffix}_x"] = round(ours["load"]["replies_per_s"] / ref["load"]["replies_per_s"], 2)  # type: ignore[index]
                ratios[f"single_p50{suffix}_x"] = round(ref["single"]["p50_ms"] / ours["single"]["p50_ms"], 2)  # type: ignore[index]
        report["ratios"] = ratios
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    subprocess.run(
        [
            str(ROOT / ".venvs" / "rasa" / "bin" / "python"),
            str(ROOT / "scripts" / "plot_speed.py"),
            args.out,
            args.plot,
        ],
        check=False,
    )
    for name, figures in bots.items():
        load, single = figures["load"], figures["single"]
        print(
            f"{name}: ready {figures['ready_s']} s; single p50 {single['p50_ms']} ms; "  # type: ignore[index]
            f"{load['conversations']} concurrent: {load['replies_per_s']} replies/s, "  # type: ignore[index]
            f"p50 {load['p50_ms']} / p95 {load['p95_ms']} / p99 {load['p99_ms']} ms, "  # type: ignore[index]
            f"{load['errors']} errors, CPU ms/reply {load['cpu_ms_per_reply']}; "  # type: ignore[index]
            f"turn {figures['long']['turns']} x{figures['long']['ratio']}; "  # type: ignore[index]
            f"session {figures['sessions']['sessions']} x{figures['sessions']['ratio']}; "  # type: ignore[index]
            f"memory {figures['memory_peak_mb']} MB; NLU parse p50 {figures['nlu_parse']['p50_ms']} ms"  # type: ignore[index]
        )
    if "ratios" in report:
        print(f"ratios: {report['ratios']}")
    print(f"written to {args.out} and {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
