# The app image: the action server, history ingestion, the agent console, the CRM API and the demo shop's
# website, from requirements/app.txt; one image, the role chosen by the container's arguments
# (deploy/docker/entrypoint.py: actions, history, console, website, crm-api, migrate).
#
#   docker build -f deploy/docker/app.Dockerfile -t hearth-app:$(git rev-parse --short HEAD) .
#
# No secret is baked in: configuration comes from the environment when the container starts.

# The web chat widget, from the npm registry at the version website/package-lock.json pins (as
# scripts/bootstrap.sh installs it). The website serves one file of it: rasa-webchat/lib/index.js.
FROM node:20-slim AS widget
WORKDIR /build/website
COPY website/package.json website/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
 && test -f node_modules/rasa-webchat/lib/index.js
# htmx for the agent console, at the versions console/package-lock.json pins.
WORKDIR /build/console
COPY console/package.json console/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
 && test -f node_modules/htmx.org/dist/htmx.min.js

FROM python:3.10-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONPATH=/app \
    MPLCONFIGDIR=/tmp/matplotlib \
    HEARTH_DATA_DIR=/var/lib/hearth \
    PATH=/app/.venvs/app/bin:$PATH

WORKDIR /app

# The virtualenv where scripts/bootstrap.sh puts it, from the pinned lock, with --no-deps exactly as
# bootstrap does. The lock also holds the test tools (pytest, Playwright's Python package, ruff, mypy):
# one lock for the action server, the CRM and the tests. No browser is installed.
COPY requirements/app.txt requirements/pip-check-allowed.txt requirements/
COPY scripts/pip_check.sh scripts/pip_check.sh
RUN python -m venv .venvs/app \
 && .venvs/app/bin/python -m pip install --no-deps -r requirements/app.txt \
 && bash scripts/pip_check.sh .venvs/app/bin/python

COPY actions/ actions/
# hearth/: the command line (`python -m hearth migrate|agents|ingest ...`)
COPY hearth/ hearth/
COPY crm_adapter/ crm_adapter/
COPY relationship/ relationship/
COPY handoff/ handoff/
COPY history/ history/
COPY analytics/ analytics/
COPY nlu_review/ nlu_review/
COPY reviews/ reviews/
# knowledge/ and encoder/: the help centre and its search; data/knowledge/: the articles an empty help centre starts with
COPY knowledge/ knowledge/
COPY audit/ audit/
COPY workspace/ workspace/
COPY encoder/ encoder/
COPY data/knowledge/ data/knowledge/
COPY shared/ shared/
COPY worker/ worker/
COPY crm_api/ crm_api/
COPY console/ console/
COPY website/ website/
COPY --from=widget /build/website/node_modules/rasa-webchat/ website/node_modules/rasa-webchat/
COPY --from=widget /build/console/node_modules/htmx.org/dist/ console/node_modules/htmx.org/dist/
COPY --from=widget /build/console/node_modules/htmx-ext-sse/dist/ console/node_modules/htmx-ext-sse/dist/
# bot/: the console lists the intents of bot/domain/.
COPY bot/ bot/
COPY deploy/docker/entrypoint.py deploy/docker/entrypoint.py

RUN groupadd --system --gid 10001 hearth \
 && useradd --system --uid 10001 --gid hearth --home-dir /nonexistent --no-create-home hearth \
 && mkdir -p /var/lib/hearth && chown hearth:hearth /var/lib/hearth
USER 10001:10001

# actions 5055, console 5070, website 5080, CRM API 5090
EXPOSE 5055 5070 5080 5090
# The role's own check: its /health, or for history ingestion a recent step in the CRM database.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["python", "/app/deploy/docker/entrypoint.py", "healthcheck"]

ENTRYPOINT ["python", "/app/deploy/docker/entrypoint.py"]
CMD ["help"]
