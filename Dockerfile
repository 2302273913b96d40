# The operator image: the same Node 24 release the repo pins (.node-version), sources run as they are (Node strips
# the TypeScript types), production dependencies only, and no sandbox.
FROM node:24.21.0-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY deploy/crds ./deploy/crds
USER 65532:65532
# A 2 MiB young generation instead of V8's default (up to 16 MiB per semi-space): the operator allocates little per
# pass, and this keeps ~20 MiB (no resource) to ~120 MiB (51 clusters) of RSS off the process (BENCHMARKS.md).
ENV NODE_OPTIONS=--max-semi-space-size=2
ENTRYPOINT ["node", "bin/emqx-operator.js"]
CMD ["run"]
