# The operator image: the same Node 24 release the repo pins (.node-version), production dependencies only, no
# sandbox. The sources are compiled to plain JavaScript first (`npm run build`, tsc): Node could run the .ts files
# as they are, but its type stripper then stays loaded for the life of the process (~28 MiB of RSS, BENCHMARKS.md).
FROM node:24.21.0-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY scripts/build.ts ./scripts/build.ts
COPY src ./src
RUN node scripts/build.ts --out /app

FROM node:24.21.0-bookworm-slim
WORKDIR /app
# /app: package.json, package-lock.json, bin/entrypoint.sh, bin/emqx-operator.js, src/**/*.js (no tests)
COPY --from=build /app ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY deploy/crds ./deploy/crds
USER 65532:65532
# bin/entrypoint.sh starts `node bin/emqx-operator.js` with the Node flags the operator's memory was measured with
# (a 2 MiB young generation) and caps V8's old generation at $EMQX_OPERATOR_HEAP_PERCENT (default 50) % of
# $EMQX_OPERATOR_MEMORY_LIMIT_MIB, the container's memory limit, which the Helm chart passes with the Downward API.
# Figures in BENCHMARKS.md ("Issue 14: memory").
ENTRYPOINT ["sh", "/app/bin/entrypoint.sh"]
CMD ["run"]
