"""The pure order domain: statuses, allowed transitions, the Order aggregate, intake rules.

No asyncpg, httpx, Kafka or clock calls in here (STYLE.md point 4): callers pass ``now``.
"""
