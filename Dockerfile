# usher: multi-stage build, slim non-root runtime.
#   docker build -t usher .
#   docker run -p 6379:6379 usher --requirepass change-me
FROM rust:1-slim-bookworm AS build
# make: jemalloc's build runs it, and the slim image lacks it.
RUN apt-get update && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release -p usher-server && strip target/release/usher

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data --create-home usher
COPY --from=build /src/target/release/usher /usr/local/bin/usher
USER usher
WORKDIR /data
# Snapshots (dump.rdb, Redis 7.0's default save points) go to /data: mount a volume to keep
# them across containers.
VOLUME ["/data"]
EXPOSE 6379 9121
# In a container the client is never on loopback: listen on all interfaces. Protected mode
# then refuses clients until a password is set (pass --requirepass), exactly like Redis.
ENTRYPOINT ["usher", "--bind", "0.0.0.0", "--dir", "/data"]
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD bash -c 'exec 3<>/dev/tcp/127.0.0.1/6379 && printf "PING\r\n" >&3 && timeout 2 head -c 5 <&3 | grep -q -e PONG -e NOAUTH -e DENIED'
