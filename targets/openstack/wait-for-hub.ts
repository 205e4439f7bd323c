/**
 * Ready-wait of the JupyterHubServer: `pulumi up` finishes only when the hub answers on <hubUrl>hub/api.
 * Bounded by JHVM_TIMEOUT seconds; on timeout it fails naming the URL, the last error and how to see the console.
 */
const url = process.env.JHVM_HUB_API ?? "";
const timeoutS = Number(process.env.JHVM_TIMEOUT ?? "900");
const serverId = process.env.JHVM_SERVER_ID ?? "";

async function probe(): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000), redirect: "follow" });
    if (res.ok) return "";
    return `HTTP ${res.status}`;
  } catch (e) {
    return (e as Error).message;
  }
}

async function main(): Promise<void> {
  if (!url) throw new Error("JHVM_HUB_API is not set");
  const start = Date.now();
  let last = "";
  for (let i = 0; ; i++) {
    last = await probe();
    if (!last) {
      process.stderr.write(`hub ready at ${url} after ${Math.round((Date.now() - start) / 1000)} s\n`);
      process.stdout.write(JSON.stringify({ ready: true, seconds: Math.round((Date.now() - start) / 1000) }) + "\n");
      return;
    }
    if ((Date.now() - start) / 1000 > timeoutS) break;
    if (i % 6 === 0) process.stderr.write(`waiting for ${url}: ${last}\n`);
    await new Promise((r) => setTimeout(r, 5000));
  }
  throw new Error(
    `the hub did not answer on ${url} within ${timeoutS} s (last: ${last}). ` +
      `See the server's console: \`openstack console log show ${serverId} | tail -50\`, and /var/log/jupyterhub-vm-first-boot.log on the server.`,
  );
}

main().catch((e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
