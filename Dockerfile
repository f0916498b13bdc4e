# Multi-stage build: the filter (.wasm) and the host bundle, then two small images.
#   target "host":  the control-plane host (sidecar mode) on a pinned Node slim base, non-root
#   target "envoy": a pinned Envoy with the filter and envoy.yaml
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
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY --from=build /src/build/nexus_filter.wasm ./build/nexus_filter.wasm
COPY asconfig.json ./
COPY models/demo ./models/demo
USER node
EXPOSE 9090
ENV NEXUS_MODE=sidecar NEXUS_CONTROL_HOST=0.0.0.0
CMD ["node", "dist/nexus-rtb.mjs", "serve"]

FROM envoyproxy/envoy:v1.31.2 AS envoy
COPY envoy/envoy.yaml /etc/envoy/envoy.yaml
COPY --from=build /src/build/nexus_filter.wasm /etc/envoy/nexus_filter.wasm
