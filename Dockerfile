# Multi-stage build: the filter (.wasm) and the host bundle once, then two small images.
#   target "host":  the control-plane host (NEXUS_MODE=sidecar) on a pinned Node slim base,
#                   production dependencies only, non-root (uid 1000, "node")
#   target "envoy": a pinned Envoy with the filter baked in at /etc/envoy/nexus_filter.wasm and
#                   the docker-compose envoy.yaml (Kubernetes mounts its own envoy.yaml over -c)
# Build both from the same commit: the .wasm and the host speak docs/SYNC_PROTOCOL.md.
#   docker build --target host  -t nexus-rtb-host:0.1.0 .
#   docker build --target envoy -t nexus-rtb-envoy:0.1.0 .
FROM node:20.18.1-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY asconfig.json tsconfig.json ./
COPY assembly ./assembly
COPY host ./host
COPY scripts ./scripts
RUN npm run build

FROM node:20.18.1-bookworm-slim AS host
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist ./dist
# The filter too: the same image runs standalone (NEXUS_MODE=standalone) without Envoy.
COPY --from=build /src/build/nexus_filter.wasm ./build/nexus_filter.wasm
# The filter's core (campaign parser): the host checks every campaign set with it before publishing.
COPY --from=build /src/build/nexus_core.wasm ./build/nexus_core.wasm
COPY asconfig.json ./
COPY models/demo ./models/demo
# uid:gid of the image's "node" user, numeric so that Kubernetes can check runAsNonRoot.
USER 1000:1000
EXPOSE 9090
ENV NEXUS_MODE=sidecar NEXUS_CONTROL_HOST=0.0.0.0
CMD ["node", "dist/nexus-rtb.mjs", "serve"]

FROM envoyproxy/envoy:v1.31.2 AS envoy
COPY envoy/envoy.yaml /etc/envoy/envoy.yaml
COPY --from=build /src/build/nexus_filter.wasm /etc/envoy/nexus_filter.wasm
# uid:gid of the image's "envoy" user: the entrypoint then runs Envoy directly, never as root.
USER 101:101
EXPOSE 8080 9901
# Two worker threads = two filter VMs (Envoy's default is one per host CPU, which on a large
# node multiplies the VMs' memory); no hot restart (no shared memory segment, read-only root).
CMD ["envoy", "-c", "/etc/envoy/envoy.yaml", "--concurrency", "2", "--disable-hot-restart"]
