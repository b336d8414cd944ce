# syntax=docker/dockerfile:1
# Multi-stage build: compile in the Rust image, run in a slim Debian image as a non-root user.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && echo '' > src/lib.rs \
    && mkdir -p migrations/sqlite migrations/postgres proto \
    && cargo build --release --locked || true
COPY . .
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin tidings

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/tidings --create-home tidings
COPY --from=build /src/target/release/tidings /usr/local/bin/tidings
USER tidings
WORKDIR /var/lib/tidings
# The binary caps glibc's malloc arenas at its worker count itself (src/malloc.rs); set
# MALLOC_ARENA_MAX to choose another number.
ENV TIDINGS_LISTEN=0.0.0.0:8080 \
    TIDINGS_DATABASE_URL=sqlite:///var/lib/tidings/data/tidings.db \
    TIDINGS_LOG_FORMAT=json
VOLUME ["/var/lib/tidings/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/tidings"]
CMD ["serve"]
