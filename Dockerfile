# hallpass as a container image. Multi-stage: TypeScript is compiled where the dev dependencies are;
# the image that runs holds only the production dependencies, dist/ and the migrations, runs as the
# unprivileged `node` user, and writes nothing outside /data (the database), so it runs with a
# read-only root file system:
#
#   docker build -t hallpass .
#   docker run -d --name hallpass --read-only -p 3000:3000 -v hallpass-data:/data \
#     -v "$PWD/policy.yml:/config/policy.yml:ro" --env-file hallpass.env hallpass
#
# tests/e2e/production-install.test.ts replays this file's stages without Docker (a build, then
# `npm ci --omit=dev` in a clean folder, then the CMD and the HEALTHCHECK), so keep its RUN lines to the
# ones that test knows how to replay.

ARG NODE_VERSION=22

FROM node:${NODE_VERSION}-bookworm-slim AS toolchain
# better-sqlite3 downloads a prebuilt binary when one exists for the platform; these build it otherwise.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app

# Every dependency, then `tsc -b` into dist/ and the EC2 SDK bundled down to what hallpass sends
# (scripts/slim-ec2.cjs).
FROM toolchain AS build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

# The production dependencies alone, from the same lockfile.
FROM toolchain AS deps
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# jemalloc as the process's allocator (LD_PRELOAD below): glibc's keeps what is freed outside the JS heap
# (V8's compiler zones, SQLite, TLS) in its arenas, so RSS climbed by a quarter over a 10,000-request
# soak and stayed there; jemalloc gives it back once the bot is quiet (docs/operations.md, Memory).
RUN apt-get update && apt-get install -y --no-install-recommends libjemalloc2 && rm -rf /var/lib/apt/lists/*
# /data (a volume) is the only place written: the database and SQLite's temporary files. The policy is
# mounted at /config/policy.yml; settings and secrets come from the environment. NODE_OPTIONS as in
# `npm start` (docs/operations.md, Memory): a heap of 256 MiB, young generation of 4 MiB.
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-old-space-size=256 --max-semi-space-size=4" \
    LD_PRELOAD=libjemalloc.so.2 \
    PORT=3000 \
    HALLPASS_DB=/data/hallpass.db \
    HALLPASS_POLICY=/config/policy.yml \
    SQLITE_TMPDIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json LICENSE ./
COPY scripts ./scripts
COPY drizzle ./drizzle
COPY --from=build /app/dist ./dist
RUN mkdir -p /data /config && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
