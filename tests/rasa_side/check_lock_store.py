"""Run in Rasa's virtualenv with a Redis URL: the lock store the run command configures (bot/lock_store.py) is the
one Rasa builds from the endpoints file, and it serialises a conversation across processes: several processes
that each take the lock, read a counter, pause and write it back plus one never lose an increment, and tickets
issued at the same moment are all different; and a message waiting behind a server that died holding the lock is
served once that server's ticket expires (TICKET_LOCK_LIFETIME, 2 s here), instead of waiting forever when its
own ticket expires too. The same is run against Rasa's own RedisLockStore and its outcome printed (not
asserted: a race may or may not be lost, a turn may be refused with LockError, a worker may be stranded; every
worker is a daemon and is stopped at a deadline, so none of that can hang this script). Prints "ok".

    python tests/rasa_side/check_lock_store.py <endpoints file with a lock_store section>
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
import time
import uuid

os.environ["TICKET_LOCK_LIFETIME"] = "2"  # read by Rasa when its lock store module is imported

from rasa.core.lock_store import LockError, LockStore, RedisLockStore
from rasa.utils.endpoints import read_endpoint_config

from bot.lock_store import AtomicRedisLockStore

PROCESSES, ROUNDS = 6, 5


def store_from(endpoints: str, stock: bool) -> LockStore:
    config = read_endpoint_config(endpoints, "lock_store")
    store = LockStore.create(config)
    if stock:
        return RedisLockStore(host=config.url, **config.kwargs)
    return store


def increment(endpoints: str, stock: bool, conversation: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    store = store_from(endpoints, stock)
    counter, turns, refused = (f"hearth-check:{conversation}:{name}" for name in ("counter", "turns", "refused"))

    async def work() -> None:
        for _ in range(ROUNDS):
            barrier.wait(timeout=30)  # everyone asks for the lock at the same moment
            try:
                async with store.lock(conversation, wait_time_in_seconds=0.02):
                    value = int(store.red.get(counter) or 0)
                    await asyncio.sleep(0.01)  # a turn takes time: another holder would overwrite us
                    store.red.set(counter, value + 1)
                store.red.incr(turns)  # a turn completed: its increment must be in the counter
            except LockError:
                if not stock:
                    raise
                store.red.incr(refused)  # Rasa's store gives up when another process deleted the lock

    asyncio.run(work())


def ticket(endpoints: str, stock: bool, conversation: str, barrier: multiprocessing.synchronize.Barrier, out) -> None:  # type: ignore[no-untyped-def]
    store = store_from(endpoints, stock)
    barrier.wait(timeout=30)
    out.put(store.issue_ticket(conversation))


def finish(workers: list[multiprocessing.process.BaseProcess], stock: bool, seconds: float) -> None:
    """Wait for the workers until `seconds` have passed; a stranded one is stopped (Rasa's store can leave a
    waiter behind a ticket that expired, and a worker it refused leaves the others at the barrier). With our
    store none may fail or be stopped."""
    deadline = time.monotonic() + seconds
    for w in workers:
        w.join(timeout=max(0.0, deadline - time.monotonic()))
    failed = 0
    for w in workers:
        if w.is_alive():
            w.terminate()
            w.join()
        failed += w.exitcode != 0
    assert stock or failed == 0, f"{failed} workers failed or hung"


def race(endpoints: str, stock: bool) -> tuple[int, int, int]:
    """(increments lost, turns refused with LockError, rounds with a duplicate ticket)."""
    context = multiprocessing.get_context("fork")
    conversation = f"check-{uuid.uuid4().hex[:8]}"
    barrier = context.Barrier(PROCESSES)
    workers = [
        context.Process(target=increment, args=(endpoints, stock, conversation, barrier), daemon=True)
        for _ in range(PROCESSES)
    ]
    for w in workers:
        w.start()
    finish(workers, stock, 40 if stock else 120)
    store = store_from(endpoints, stock)
    counter, turns, refused_key = (f"hearth-check:{conversation}:{name}" for name in ("counter", "turns", "refused"))
    completed, refused = int(store.red.get(turns) or 0), int(store.red.get(refused_key) or 0)
    lost = completed - int(store.red.get(counter) or 0)
    store.red.delete(counter, turns, refused_key)
    if not stock:
        assert completed == PROCESSES * ROUNDS, completed
        assert store.get_lock(conversation) is None, "the lock was left behind"
    store.delete_lock(conversation)

    duplicates = 0
    for _ in range(10):
        conversation = f"check-{uuid.uuid4().hex[:8]}"
        barrier, out = context.Barrier(PROCESSES), context.Queue()
        workers = [
            context.Process(target=ticket, args=(endpoints, stock, conversation, barrier, out), daemon=True)
            for _ in range(PROCESSES)
        ]
        for w in workers:
            w.start()
        numbers = [out.get(timeout=60) for _ in workers]  # issuing a ticket never waits
        finish(workers, stock, 60)
        duplicates += len(set(numbers)) != len(numbers)
        store.delete_lock(conversation)
    return lost, refused, duplicates


async def behind_a_dead_server(store: LockStore) -> float | None:
    """Seconds until a message waiting behind a lock whose holder died is served; None if not within 10 s."""
    conversation = f"check-{uuid.uuid4().hex[:8]}"
    store.issue_ticket(conversation)  # a server took the lock and died: nobody will release it
    started = time.monotonic()

    async def wait() -> None:
        async with store.lock(conversation, wait_time_in_seconds=0.1):
            pass

    try:
        await asyncio.wait_for(wait(), 10)
        return time.monotonic() - started
    except asyncio.TimeoutError:
        return None
    finally:
        store.delete_lock(conversation)


def main(endpoints: str) -> None:
    store = store_from(endpoints, stock=False)
    assert isinstance(store, AtomicRedisLockStore), type(store)
    assert store.key_prefix.startswith("hearth:"), store.key_prefix
    started = time.monotonic()
    lost, refused, duplicates = race(endpoints, stock=False)
    print(f"atomic store: {lost} increments lost, {duplicates}/10 rounds with duplicate tickets")
    assert lost == 0 and refused == 0 and duplicates == 0
    served = asyncio.run(behind_a_dead_server(store))
    print(f"atomic store: a message behind a dead server's lock was served after {served} s")
    assert served is not None and 1.5 < served < 4, served
    lost, refused, duplicates = race(endpoints, stock=True)
    print(
        f"Rasa's RedisLockStore: {lost} increments lost, {refused} turns refused (LockError), "
        f"{duplicates}/10 rounds with duplicate tickets"
    )
    served = asyncio.run(behind_a_dead_server(store_from(endpoints, stock=True)))
    print(f"Rasa's RedisLockStore: a message behind a dead server's lock was served after {served} s")
    print(f"{time.monotonic() - started:.1f} s")
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1])
