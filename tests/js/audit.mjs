// Audits a server against the GraphQL-over-HTTP specification with graphql-http's auditServer.
// Usage: node audit.mjs URL
// Prints one JSON line: every audit's {id, name, status, reason?} (status "ok", "notice",
// "warn" for a failed SHOULD, "error" for a failed MUST).
import { auditServer } from "graphql-http";

const [url] = process.argv.slice(2);
const results = await auditServer({ url });
const report = results.map(({ id, name, status, reason }) => ({ id, name, status, reason }));
process.stdout.write(JSON.stringify(report) + "\n");
