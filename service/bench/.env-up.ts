// scratch (not committed): starts PG, Redis, fake LLM; writes env JSON to /tmp/wt42/env.json; stays up until SIGTERM
import * as fs from "node:fs";
import { PostgresServer, RedisServer, startFakeLlm, stopAll } from "../test/support";
(async () => {
    const [pg, redis, llm] = await Promise.all([PostgresServer.start(), RedisServer.start(), startFakeLlm()]);
    fs.writeFileSync("/tmp/wt42/env.json", JSON.stringify({ POSTGRES_URL: pg.url, REDIS_URL: redis.url, OPENAI_BASE_URL: llm.url }));
    console.log("up");
    process.on("SIGTERM", () => void stopAll().then(() => process.exit(0)));
})();
