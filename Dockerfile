# One image for every EAS service; the container's command picks the service:
#   docker run -w /eas/services/gateway eas node --import @eas/telemetry/register dist/main.js
FROM node:20-bookworm-slim AS build
WORKDIR /eas
RUN npm i -g -E pnpm@12.4.2
COPY . .
RUN pnpm install --frozen-lockfile && pnpm build

FROM node:20-bookworm-slim
WORKDIR /eas
COPY --from=build /eas /eas
ENV NODE_ENV=production EAS_BIND_HOST=0.0.0.0
# The process runtime driver runs instances as child processes of the agent; tar unpacks model archives.
RUN apt-get update && apt-get install -y --no-install-recommends tar && rm -rf /var/lib/apt/lists/*
WORKDIR /eas/services/deployer
CMD ["node", "--import", "@eas/telemetry/register", "dist/main.js"]
