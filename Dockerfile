# ocsp-stapling-exporter container image.
#
#   docker build -t ocsp-stapling-exporter .
#   docker run -p 9858:9858 -v "$PWD/config.yaml:/etc/ocsp-stapling-exporter/config.yaml:ro" ocsp-stapling-exporter
#
# Three stages: `build` compiles TypeScript with every dependency, `deps` installs the runtime
# dependencies alone from the lock file, and the final stage holds only dist/, node_modules and
# package.json (read for the version), running as an unprivileged user. test/deploy replays these
# commands without Docker and lints this file.

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}
ARG NODE_IMAGE
# docker build --build-arg VERSION=$(node -p "require('./package.json').version") --build-arg REVISION=$(git rev-parse HEAD) .
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="ocsp-stapling-exporter" \
      org.opencontainers.image.description="Prometheus exporter that probes TLS servers for their stapled OCSP responses and verifies them" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
# The official image's unprivileged `node` user, by number so Kubernetes' runAsNonRoot can check it.
USER 1000:1000
EXPOSE 9858
# Plain HTTP: with TLS or basic auth in --web.config.file, override it (or rely on Kubernetes probes).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9858/-/healthy').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node runs as PID 1 with no npm or shell in between, so SIGTERM (graceful stop) and SIGHUP
# (reload) reach the exporter, which handles both.
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve", "--config.file=/etc/ocsp-stapling-exporter/config.yaml", "--web.listen-address=:9858"]
