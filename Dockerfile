# The fleet service image (`fluxfleet serve`). Not built in CI here.
#   docker build -t fluxfleet-serve .
#   docker run -v /srv/fleet:/fleet:ro -v /etc/fluxfleet:/etc/fluxfleet:ro \
#     -e FLUXFLEET_SESSION_SECRET=... fluxfleet-serve -C /fleet --keys /etc/fluxfleet/hmac-keys.yaml \
#     --db postgresql://fluxfleet@db/fluxfleet --public-url https://fleet.example.com
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir '.[serve]' && rm -rf /src
WORKDIR /
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["fluxfleet", "serve", "--host", "0.0.0.0", "--port", "8080"]
