# The Rasa server image: Rasa 3.6 from requirements/rasa.txt, Hearth's Rasa-side code (bot/), and the model
# trained at build time from this commit's config.yml, data/ and bot/domain/.
#
#   docker build -f deploy/docker/rasa.Dockerfile -t hearth-rasa:$(git rev-parse --short HEAD) .
#
# Training here rather than at start makes the image self-contained and reproducible: every replica serves
# the very model that was built and can be tested before release, a pod starts in the time it takes to load
# it (no 23 s of training per pod, no writable model volume, no model server), and a rollback is the previous
# image. Training is deterministic (docs/user-guide.md, "The regression gate"), so the same commit gives the same model.
# No secret is baked in: configuration comes from the environment when the container starts
# (deploy/docker/entrypoint.py; docs/deployment.md lists every variable).

FROM python:3.10-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    RASA_TELEMETRY_ENABLED=false \
    MPLCONFIGDIR=/tmp/matplotlib \
    HEARTH_DATA_DIR=/var/lib/hearth \
    PATH=/app/.venvs/rasa/bin:$PATH

WORKDIR /app

# The virtualenv where scripts/bootstrap.sh puts it, from the pinned lock, with --no-deps exactly as
# bootstrap does (the lock is complete; some packages' declared dependencies are deliberately left out).
COPY requirements/rasa.txt requirements/pip-check-allowed.txt requirements/
COPY scripts/pip_check.sh scripts/pip_check.sh
RUN python -m venv .venvs/rasa \
 && .venvs/rasa/bin/python -m pip install --no-deps -r requirements/rasa.txt \
 && bash scripts/pip_check.sh .venvs/rasa/bin/python

# What the Rasa server loads and what training reads (hearth/train.py's TRAINING_INPUTS).
COPY config.yml config.yml
COPY data/ data/
COPY bot/ bot/
# encoder/: the sentence encoder the NLU's sentence features run
COPY encoder/ encoder/
# shared/: log redaction and the website's identity token, used by both images
COPY shared/ shared/
# hearth/: the launcher, which trains below and writes the endpoints and credentials files at start
COPY hearth/ hearth/
COPY deploy/docker/entrypoint.py deploy/docker/entrypoint.py

# Train with the run command's own code. Its data folder (where it would keep development secrets) is a
# scratch folder removed in the same layer, as is Rasa's training cache, so neither is in the image.
RUN HEARTH_DATA_DIR=/tmp/hearth-build python -m hearth train \
 && rm -rf /tmp/hearth-build .rasa \
 && ls models/hearth-*.tar.gz

# An unprivileged user owning nothing in /app; it writes only the data folder (the endpoints and credentials
# files made at start) and /tmp (where Rasa unpacks the model). Numeric, so Kubernetes can check runAsNonRoot.
RUN groupadd --system --gid 10001 hearth \
 && useradd --system --uid 10001 --gid hearth --home-dir /nonexistent --no-create-home hearth \
 && mkdir -p /var/lib/hearth && chown hearth:hearth /var/lib/hearth
USER 10001:10001

EXPOSE 5005
# Rasa answers / once the model is loaded (about 15 s after start).
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
  CMD ["python", "/app/deploy/docker/entrypoint.py", "healthcheck", "rasa"]

ENTRYPOINT ["python", "/app/deploy/docker/entrypoint.py"]
CMD ["rasa"]
