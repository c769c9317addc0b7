# The one camsweep image: web UI, beat and every site's worker (see docker-compose.yml).
FROM python:3.11-slim

# libpcap: scapy's raw-packet discovery (ARP, multicast) in the workers.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpcap0.8 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/camsweep
COPY pyproject.toml README.md ./
COPY camsweep ./camsweep
COPY scanner ./scanner
COPY fingerprints ./fingerprints
COPY db ./db
RUN pip install --no-cache-dir ".[postgres,web,worker]" \
    && useradd --system --uid 10001 --home-dir /var/lib/camsweep --create-home camsweep

# Workers run as root inside the container only for the NET_RAW/NET_ADMIN capabilities compose
# grants them; web and beat run as the unprivileged camsweep user (compose sets `user`).
ENTRYPOINT ["camsweep"]
CMD ["--help"]
