# syntax=docker/dockerfile:1
# Image of the diabetes risk REST service.
#
#   make build-image            (or: docker build --build-arg BUILD_DATE=... --build-arg VERSION=0.1.0 -t diabetes_risk_model_service:0.1.0 .)
#
# Two stages: the builder resolves the pinned service requirements into a virtual environment; the runtime
# stage copies that environment and the package only. Nothing in the runtime image can escalate: the service
# runs as an unprivileged numeric user (so Kubernetes' runAsNonRoot can verify it), owns none of its code, and
# there is no sudo. The model itself is not in the image: the service downloads a signed package from MinIO
# and verifies it before unpickling.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY service_requirements.txt /tmp/service_requirements.txt
# Exactly the locked files, each checked against its sha256 (--require-hashes), and nothing else (--no-deps).
# The lock leaves out what pycaret declares but the service never imports (service_requirements.prune), so
# `pip check` would list those; the runtime check below (runtime stage) is the real one. The packages' own
# test suites (site-packages/*/**/tests, ~150 MB) are not shipped.
RUN /opt/venv/bin/pip install --no-cache-dir --require-hashes --no-deps -r /tmp/service_requirements.txt \
    && find /opt/venv/lib/python3.11/site-packages -mindepth 2 -type d -name tests -prune -exec rm -rf {} + \
    && /opt/venv/bin/pip uninstall --yes pip


FROM ${PYTHON_IMAGE} AS runtime

ARG BUILD_DATE
ARG VERSION=0.1.0
ARG REVISION=unknown

LABEL org.opencontainers.image.title="diabetes_risk_model_service" \
      org.opencontainers.image.description="REST service that downloads, verifies and serves a signed diabetes risk model" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.created="${BUILD_DATE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim"

# libgomp1: OpenMP runtime that LightGBM (imported by pycaret pipelines) links against.
# libseccomp2: the loading sandbox's seccomp filter (pyseccomp loads it with ctypes).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install --yes --no-install-recommends libgomp1 libseccomp2 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 service \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin service

COPY --from=builder /opt/venv /opt/venv

WORKDIR /service
# Code and configuration stay owned by root: the service user can read them, not change them.
COPY LICENSE ./LICENSE
COPY configuration/ ./configuration/
COPY diabetes_risk_model/ ./diabetes_risk_model/

# The root filesystem is read-only in Kubernetes; everything that must be written goes to /tmp.
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONPATH=/service \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib \
    PYCARET_CUSTOM_LOGGING_PATH=/tmp/pycaret.log \
    REST_CONFIG=/service/configuration/docker_rest_config.yaml

# Every module the service runs and every class an admitted pickle may name imports here (one line, or the
# build fails naming the missing module). What the imports leave in /tmp (matplotlib's font cache) goes.
RUN python -m diabetes_risk_model.service.runtime_check && find /tmp -mindepth 1 -delete

USER 10001:10001
EXPOSE 8000

# Liveness only (the process answers); readiness, which needs a verified model, is Kubernetes' business.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4).status != 200)"]

CMD ["uvicorn", "diabetes_risk_model.service.app:app", "--host", "0.0.0.0", "--port", "8000"]
