"""The ceiling for ``bench/pipeline.py``: a bare two-hop Faust chain, no database, no HTTP.

Agent ``hop_a`` reads raw bytes from topic ``bare.x`` and sends each value on to ``bare.y``;
agent ``hop_b`` reads ``bare.y`` and counts. Every ``--count`` messages it prints
``BARE_DONE <unix time>`` so the benchmark (which published them) can compute messages/s.
A message keyed ``t=<unix time of publishing>`` is not counted: ``hop_b`` prints
``BARE_LATENCY <ms>`` for it instead (the chain's latency floor at a paced rate).

The app is built with the services' own ``make_app`` (raw serializers, ``concurrency=1``,
the same commit interval, acks and session timeout), so the only difference from the pipeline
is the work per message. Settings come from the environment like ``dropship worker``:
``KAFKA_BOOTSTRAP_SERVERS``, ``TOPIC_PREFIX``, ``GROUP_PREFIX``, ``TOPIC_PARTITIONS``, ...

Run by the benchmark as ``python bench/bare_chain.py --count N``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from shared.logs import configure_logging
from shared.messaging.faust_app import ServiceApp, make_app, raw_topic, run_worker
from shared.settings import Settings

SERVICE = "bare-chain"
TOPIC_X = "bare.x"
TOPIC_Y = "bare.y"
DONE_MARK = "BARE_DONE"
LATENCY_MARK = "BARE_LATENCY"
TIMED_KEY = b"t="


class NoResources:
    """The chain has no pool, client or publisher to start."""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def build_app(settings: Settings, count: int) -> ServiceApp:
    app = make_app(settings, SERVICE, NoResources())
    topic_y = raw_topic(app, settings, TOPIC_Y)

    @app.agent(raw_topic(app, settings, TOPIC_X), name="hop_a")
    async def hop_a(stream: Any) -> None:
        async for event in stream.events():
            await topic_y.send(key=event.key, value=event.value)

    @app.agent(topic_y, name="hop_b")
    async def hop_b(stream: Any) -> None:
        seen = 0
        async for event in stream.events():
            if (event.key or b"").startswith(TIMED_KEY):
                sent = float(event.key.removeprefix(TIMED_KEY))
                print(f"{LATENCY_MARK} {1000 * (time.time() - sent):.1f}", flush=True)
                continue
            seen += 1
            if seen % count == 0:
                print(f"{DONE_MARK} {time.time():.6f} {seen}", flush=True)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, required=True, help="messages per round")
    args = parser.parse_args()
    settings = Settings()
    configure_logging(settings.log_level)
    run_worker(build_app(settings, args.count), loglevel=settings.log_level.lower())


if __name__ == "__main__":
    main()
