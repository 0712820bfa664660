# tenantguard image: built on Debian, run as a non-root user on a read-only root filesystem.
# (Without a Docker engine or a registry, `make image` builds the same image from Debian
# packages with mmdebstrap and umoci: image/build.sh.)
FROM debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      gcc make pkg-config libmicrohttpd-dev libgnutls28-dev libjansson-dev libssl-dev \
      libyaml-dev libcurl4-openssl-dev ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY webhook webhook
COPY policies policies
COPY certs certs
# The packages are installed above, so the Makefile's own install step has nothing to do.
RUN make DEPS=skip build/tenantguard

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libmicrohttpd12 libgnutls30 libjansson4 libssl3 libyaml-0-2 libcurl4 ca-certificates publicsuffix \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/tenantguard /usr/local/bin/tenantguard
USER 65532:65532
# malloc's heap in transparent huge pages (where the node allows them, madvise mode): the claim
# index is ~100k small allocations reached at random, and 4 KiB pages made page faults and TLB
# misses half of a 100k-claim cold start (bench/bench_peer.sh runs tenantguard with this too).
ENV GLIBC_TUNABLES=glibc.malloc.hugetlb=1
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/tenantguard"]
CMD ["serve", "--config=/etc/tenantguard/config/config.yaml", \
     "--tls-cert=/etc/tenantguard/tls/tls.crt", "--tls-key=/etc/tenantguard/tls/tls.key"]
