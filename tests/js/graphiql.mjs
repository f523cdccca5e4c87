// Drives GraphiQL in headless Chromium as a person would: runs the login mutation, then, with
// the token in the Headers tab, a subscription, and waits for its first event on the page.
// Usage: node graphiql.mjs PAGE_URL EMAIL PASSWORD SUBSCRIPTION EXPECTED_TEXT
// Prints JSON lines: {"signedIn": true}, {"subscribed": true} (then the caller causes an
// event), {"shown": <the result pane's text>}, {"binaryFrames": n}; or {"failed": reason}.
import { chromium } from "playwright-core";

const [pageUrl, email, password, subscription, expected] = process.argv.slice(2);
const print = (value) => process.stdout.write(JSON.stringify(value) + "\n");
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync",
         // No internet: every host but this machine fails to resolve.
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
});

// GraphiQL fills its editors from the page's URL (q: the operation, headers: the Headers tab).
async function open(query, headers) {
  const context = await browser.newContext();  // fresh storage: no tabs kept from before
  const page = await context.newPage();
  // (The page decodes them with decodeURIComponent, which leaves a "+" a "+".)
  const params = { q: query, ...(headers && { headers: JSON.stringify(headers) }) };
  await page.goto(pageUrl + "?" + Object.entries(params)
    .map(([name, value]) => `${name}=${encodeURIComponent(value)}`).join("&"));
  await page.locator(".graphiql-execute-button").waitFor({ timeout: 15000 });
  return page;
}

try {
  const login = `mutation { login(input: {email: ${JSON.stringify(email)}, ` +
                `password: ${JSON.stringify(password)}}) { accessToken } }`;
  const signIn = await open(login);
  // (GraphiQL also POSTs its introspection query when it opens.)
  const answered = signIn.waitForResponse((r) => r.request().postData()?.includes("login"));
  await signIn.locator(".graphiql-execute-button").click();
  const body = await (await answered).json();
  const token = body.data?.login?.accessToken;
  if (!token) throw new Error(`not signed in: ${JSON.stringify(body)}`);
  print({ signedIn: true });

  const page = await open(subscription, { Authorization: `Bearer ${token}` });
  let binaryFrames = 0;
  const subscribed = new Promise((resolve) => {
    page.on("websocket", (ws) => {
      ws.on("framereceived", ({ payload }) => { if (typeof payload !== "string") binaryFrames += 1; });
      ws.on("framesent", ({ payload }) => {
        if (typeof payload === "string" && JSON.parse(payload).type === "subscribe") resolve();
      });
    });
  });
  await page.locator(".graphiql-execute-button").click();
  await subscribed;
  print({ subscribed: true });
  const pane = page.locator(".result-window");
  await pane.filter({ hasText: expected }).waitFor({ timeout: 15000 });
  print({ shown: await pane.innerText() });
  print({ binaryFrames });
} catch (error) {
  print({ failed: String(error?.message ?? error) });
  process.exitCode = 1;
} finally {
  await browser.close();  // then node ends by itself, its output written
}
