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
ENTRYPOINT ["node", "bin/emqx-operator.js"]
CMD ["run"]
