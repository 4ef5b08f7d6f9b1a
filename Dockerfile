# warroom's container image: `docker build -t warroom .`, or `docker compose up` (docker-compose.yml).
# The build needs no database: SQL is checked against the committed `.sqlx/` data (SQLX_OFFLINE=true
# in .cargo/config.toml).

FROM rust:1-bookworm AS builder
WORKDIR /build

# Dependencies first, against a stub main, so that a source change does not rebuild them.
# benches/ is needed because Cargo.toml declares the `ack_latency` bench.
COPY Cargo.toml Cargo.lock ./
COPY .cargo/ .cargo/
COPY benches/ benches/
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && cargo build --release --locked --bin warroom \
    && rm -rf src

COPY .sqlx/ .sqlx/
COPY migrations/ migrations/
COPY templates/ templates/
# Compiled into the binary with include_str!: the diagnostics packs and the status page request schemas.
COPY diagnostics/ diagnostics/
COPY specs/statuspage-incident-requests.json specs/
COPY build.rs ./
COPY src/ src/
# COPY keeps the files' own timestamps, which can be older than the stub's: touch them so cargo
# rebuilds the crate instead of keeping the stub binary.
RUN find src -name '*.rs' -exec touch {} + \
    && cargo build --release --locked --bin warroom \
    && cp target/release/warroom /usr/local/bin/warroom

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 warroom \
    && useradd --system --uid 10001 --gid warroom --home-dir /var/lib/warroom --shell /usr/sbin/nologin warroom \
    && install -d -o warroom -g warroom -m 0750 /var/lib/warroom
COPY --from=builder /usr/local/bin/warroom /usr/local/bin/warroom

# Listening beyond loopback, warroom needs SLACK_BOT_TOKEN, or WARROOM_SANDBOX=1 for the sandbox.
ENV WARROOM_LISTEN=0.0.0.0:8080 \
    WARROOM_DATA_DIR=/var/lib/warroom
WORKDIR /var/lib/warroom
# The `warroom` user, by number so that Kubernetes' runAsNonRoot can check it.
USER 10001:10001
EXPOSE 8080
# No HEALTHCHECK: the image has no curl; docker-compose.yml and orchestrators probe GET /healthz.
ENTRYPOINT ["warroom"]
CMD ["serve"]
