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
# /app: package.json, package-lock.json, bin/emqx-operator.js, src/**/*.js (no tests)
COPY --from=build /app ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY deploy/crds ./deploy/crds
USER 65532:65532
# A 2 MiB young generation instead of V8's default (up to 16 MiB per semi-space): the operator allocates little per
# pass, and this keeps ~20 MiB (no resource) to ~120 MiB (51 clusters) of RSS off the process (BENCHMARKS.md).
ENV NODE_OPTIONS=--max-semi-space-size=2
ENTRYPOINT ["node", "bin/emqx-operator.js"]
CMD ["run"]
