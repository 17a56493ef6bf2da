# syntax=docker/dockerfile:1
#
# One image for both deployables: the api (default CMD) and the dispatch
# worker (`command: ["node", "dist/apps/worker/main.js"]` in compose).
# Node 24 LTS, the supported runtime (NestJS 12, @nestjs/bullmq and jose are
# ES modules, loaded with require()).

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: full dependencies, compile api, worker and cli (Nest CLI, rspack) ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
RUN npm run build

# ---- runtime: production dependencies and the bundles only ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
# V8's young generation at most 8 MB per semi-space (Node 24 sizes it up to
# 64 MB, most of a process's peak RSS), for the api and the worker alike; it
# can only be given at start-up. `npm run bench` starts the apps with this
# line's options, so it measures them as the image runs them.
ENV NODE_OPTIONS=--max-semi-space-size=8
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The development outbox (used only when NODE_ENV is not production and no
# provider is configured) is the one place the app writes to.
RUN mkdir -p /app/.outbox && chown node:node /app/.outbox
USER node
EXPOSE 3000
CMD ["node", "dist/apps/api/main.js"]
