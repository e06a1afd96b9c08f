# One image for every process of the project: the workers, the SUNSKY sandbox and the one-shot
# `migrate` / `topics` steps. Pick the process with the command: `docker run IMAGE worker placer`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STATE_DIR=/var/lib/dropship

WORKDIR /app
COPY . /app
RUN pip install /app \
    && useradd --system --create-home --home-dir /home/dropship dropship \
    && mkdir -p "$STATE_DIR" \
    && chown dropship:dropship "$STATE_DIR"

USER dropship
ENTRYPOINT ["dropship"]
CMD ["--help"]
