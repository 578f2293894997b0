# syntax=docker/dockerfile:1
# Gatehouse container image.
#
#   docker build -t gatehouse .                                  # the gateway (target "gateway", the last stage)
#   docker build -t gatehouse-dev-idp --target dev-idp .         # the quick-start's development identity provider
#
# Build arguments:
#   BASE  the base image, with Node.js 24 (node on PATH) and npm. Default: the official node:24-slim
#         (Debian bookworm). Node comes from the base image: the node@24 npm package that the
#         repository pins for development is removed from the image.
#   DEPS  where node_modules comes from. "registry" (default): npm ci inside the build. "context":
#         from the build context, for builds without network access — run `npm ci` on the host
#         first and build with `--ignorefile deploy/docker/offline.dockerignore` (test/deploy does,
#         with only the packages the images use in the context: `closure.mjs --production oidc-provider`).
#         With Podman, pass --build-arg DEPS=… even for the default: older buildah versions skip
#         the stage that `FROM deps-${DEPS}` names when DEPS is left at its default.
#
# The image runs as the unprivileged user gatehouse (uid 10001), keeps all of its state under
# /var/lib/gatehouse (one volume; also the working directory, so a PostgreSQL-store replica's
# ./.gatehouse/{master.key,admin.key,journal} lands there), and works with a read-only root
# filesystem (mount a tmpfs at /tmp for Node's compile cache, or go without it; the cache holds
# code Node runs, so it is never kept in the writable volume). The gateway is
# PID 1 and handles SIGTERM itself: `docker stop` drains the listeners, then flushes the audit
# log and the recordings, and exits 0.

ARG BASE=node:24-slim
ARG DEPS=registry

# --- node_modules, complete (dev dependencies included: the dev-idp stage needs oidc-provider) ---
FROM ${BASE} AS deps-registry
# Behind a TLS-intercepting proxy: the path of its CA certificate inside the build (bind-mount or
# add it), e.g. podman build -v /etc/ssl/certs/ca-certificates.crt:/tmp/ca.crt:ro --build-arg NODE_EXTRA_CA_CERTS=/tmp/ca.crt
ARG NODE_EXTRA_CA_CERTS
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts && npm cache clean --force

FROM ${BASE} AS deps-context
WORKDIR /app
COPY package.json package-lock.json ./
COPY node_modules ./node_modules

FROM deps-${DEPS} AS deps

# --- production node_modules: package.json's dependencies and what they need, without the
# node@24 package (the base image's Node runs the gateway) and without dev dependencies ---
FROM deps AS prod-deps
COPY deploy/dev-idp/closure.mjs /tmp/closure.mjs
RUN node /tmp/closure.mjs --production

# --- the development identity provider's node_modules: oidc-provider and what it needs, only ---
FROM deps AS dev-idp-deps
COPY deploy/dev-idp/closure.mjs /tmp/closure.mjs
RUN node /tmp/closure.mjs oidc-provider jose

# --- the gateway ---
FROM ${BASE} AS gateway-base
# The unprivileged user; /var/lib/gatehouse is the one writable path (a volume).
RUN groupadd --system --gid 10001 gatehouse \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/gatehouse --no-create-home --shell /usr/sbin/nologin gatehouse \
 && mkdir -p /var/lib/gatehouse /etc/gatehouse \
 && chown 10001:10001 /var/lib/gatehouse && chmod 0700 /var/lib/gatehouse

FROM gateway-base AS dev-idp
WORKDIR /app
COPY --from=dev-idp-deps /app/node_modules ./node_modules
COPY deploy/dev-idp/server.ts ./deploy/dev-idp/server.ts
COPY package.json ./
USER 10001:10001
ENV DEV_IDP_LISTEN=0.0.0.0:9000
EXPOSE 9000
ENTRYPOINT ["node", "--disable-warning=ExperimentalWarning", "/app/deploy/dev-idp/server.ts"]

FROM gateway-base AS gateway
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY schema ./schema
COPY policies ./policies
COPY src ./src
COPY web ./web
COPY deploy/docker/gatehouse.yaml /etc/gatehouse/gatehouse.yaml
COPY deploy/docker/healthcheck.mjs ./deploy/docker/healthcheck.mjs
RUN ln -s /app/bin/gatehouse /usr/local/bin/gatehouse \
 && gatehouse --version
WORKDIR /var/lib/gatehouse
USER 10001:10001
ENV GATEHOUSE_CONFIG=/etc/gatehouse/gatehouse.yaml \
    GATEHOUSE_HEALTHCHECK_URL=http://127.0.0.1:8080/healthz
VOLUME ["/var/lib/gatehouse"]
EXPOSE 8080 15432
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "/app/deploy/docker/healthcheck.mjs"]
ENTRYPOINT ["/app/bin/gatehouse"]
CMD ["start"]
