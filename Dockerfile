FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 RAMPART_DATA_DIR=/data \
    RAMPART_STATIC_ROOT=/app/staticfiles
WORKDIR /app
# Report PDFs (WeasyPrint) lay text out with Pango and HarfBuzz, with a font from fontconfig.
RUN apt-get update && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b fontconfig fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --home /app rampart && mkdir /data && chown rampart /data
# The runtime half of the lock: every package pinned, each file checked against its hash.
COPY requirements-runtime.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements-runtime.lock
COPY . .
# Static files live in the image, not in the data volume, so an upgrade serves the new ones.
RUN SECRET_KEY=build-only RAMPART_DATA_DIR=/tmp/build python manage.py collectstatic --noinput -v 0 \
    && rm -rf /tmp/build
# A numeric user, so Kubernetes can verify runAsNonRoot without resolving names.
USER 10001
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--worker-tmp-dir", "/tmp"]
