// Subscribes with the reference JavaScript client, graphql-ws, as a browser app would.
// Usage: node subscribe.mjs URL TOKEN QUERY
// Prints one JSON line per event: {"connected": true}, then the first result, then
// {"binaryFrames": n} (frames the server sent as binary; the protocol's are text).
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, token, query] = process.argv.slice(2);
let binaryFrames = 0;

class CountingWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    this.on("message", (_data, isBinary) => { if (isBinary) binaryFrames += 1; });
  }
}

const print = (value) => process.stdout.write(JSON.stringify(value) + "\n");
const client = createClient({
  url,
  webSocketImpl: CountingWebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  retryAttempts: 0,
  on: { connected: () => print({ connected: true }) },
});

let exitCode = 0;
try {
  const events = client.iterate({ query });
  const first = await events.next();
  print(first.value);
  await events.return();
} catch (error) {
  print({ failed: String(error?.reason ?? error?.message ?? error) });
  exitCode = 1;
} finally {
  print({ binaryFrames });
  await client.dispose();
}
process.exit(exitCode);
