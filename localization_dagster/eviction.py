"""Spot eviction watcher for a GPU node (DESIGN section 6), run by systemd beside the worker.

It polls Azure Scheduled Events; on a ``Preempt`` for this VM it first stops the node's Celery
worker from taking new tasks (a remote ``cancel_consumer`` of its queue, answered by the worker:
the step in flight goes on while the VM lives, and with late acks it is redelivered to another
worker the moment this one's connection drops) and only then acknowledges the event, since
acknowledging early can shorten the notice of at least 30 s. The worker's process is left alone:
a stopped service would be restarted by systemd, and taking tasks again.
"""

import argparse
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

METADATA = "http://169.254.169.254/metadata"
EVENTS_URL = f"{METADATA}/scheduledevents?api-version=2020-07-01"
NAME_URL = f"{METADATA}/instance/compute/name?api-version=2021-02-01&format=text"
HEADERS = {"Metadata": "true"}


def preempt_events(document: dict[str, Any], vm_name: str) -> list[str]:
    """Ids of the ``Preempt`` events that name this VM among their resources."""
    return [
        str(event["EventId"])
        for event in document.get("Events", [])
        if event.get("EventType") == "Preempt" and vm_name in event.get("Resources", [])
    ]


def stop_consuming(node: str, queue: str, timeout: float = 10.0) -> None:
    """Make the worker ``node`` stop taking tasks from ``queue``; raises unless it confirms."""
    from localization_dagster.workers import worker_app

    replies = worker_app().control.cancel_consumer(
        queue, destination=[node], reply=True, timeout=timeout
    )
    if not any(node in reply for reply in replies or []):
        raise RuntimeError(f"worker {node} did not confirm it stopped taking {queue} tasks")


def watch_once(
    client: httpx.Client, vm_name: str, stop_worker: Callable[[], None], events_url: str
) -> bool:
    """One poll: True when a Preempt for this VM was handled (worker stopped, then acked)."""
    response = client.get(events_url, headers=HEADERS, timeout=10)
    response.raise_for_status()
    ids = preempt_events(response.json(), vm_name)
    if not ids:
        return False
    stop_worker()
    body = {"StartRequests": [{"EventId": event_id} for event_id in ids]}
    client.post(events_url, headers=HEADERS, json=body, timeout=10).raise_for_status()
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Poll until this VM is preempted; exit 0 after handing the event back to Azure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", default="gpu", help="the queue the node's worker serves")
    parser.add_argument("--worker-node", help="the worker's Celery name (default: QUEUE@host)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between polls")
    parser.add_argument("--events-url", default=EVENTS_URL)
    parser.add_argument("--vm-name", help="this VM's name (default: from instance metadata)")
    args = parser.parse_args(argv)
    with httpx.Client() as client:
        name = args.vm_name or client.get(NAME_URL, headers=HEADERS, timeout=10).text.strip()

        node = args.worker_node or f"{args.queue}@{socket.gethostname()}"

        def stop() -> None:
            stop_consuming(node, args.queue)

        while True:
            try:
                if watch_once(client, name, stop, args.events_url):
                    print(f"{name}: preempted; worker stopped, eviction acknowledged", flush=True)
                    return 0
            except httpx.HTTPError as exc:  # the metadata service hiccups; keep watching
                print(f"scheduled events unavailable: {exc}", flush=True)
            except RuntimeError as exc:  # the worker did not answer yet; the next poll retries
                print(str(exc), flush=True)
            time.sleep(args.interval)


if __name__ == "__main__":  # pragma: no cover - run by systemd as `python -m`
    raise SystemExit(main())
