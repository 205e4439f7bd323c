/**
 * STAND-IN for the `openstack` provider plugin (@pulumi/openstack 3.15.2), test infrastructure only (../README.md).
 * Provider config: `cloud` (clouds.yaml entry; OS_CLOUD), `region` (OS_REGION_NAME), `password` (overrides the
 * clouds.yaml one; OS_PASSWORD), or without a cloud: authUrl/userName/tenantName/userDomainName/projectDomainName
 * (OS_AUTH_URL, OS_USERNAME, OS_PROJECT_NAME, ...). Keystone v3 password auth only.
 */
import { serve } from "../lib/server";
import { Props } from "../lib/values";
import { OpenStack, loadCloud } from "./client";
import { FUNCTIONS } from "./functions";
import { RESOURCES, setClient } from "./resources";

const VERSION = "3.15.2";

function s(v: unknown): string | undefined {
  return v === undefined || v === null || v === "" ? undefined : String(v);
}

async function configure(c: Props) {
  const env = process.env;
  const cloudName = s(c.cloud) ?? env.OS_CLOUD;
  const password = s(c.password) ?? env.OS_PASSWORD;
  const region = s(c.region) ?? env.OS_REGION_NAME;
  let cloud;
  if (cloudName) {
    cloud = loadCloud(cloudName);
  } else {
    cloud = {
      auth: {
        auth_url: s(c.authUrl) ?? env.OS_AUTH_URL ?? "",
        username: s(c.userName) ?? env.OS_USERNAME ?? "",
        user_id: s(c.userId) ?? env.OS_USER_ID ?? "",
        project_name: s(c.tenantName) ?? env.OS_PROJECT_NAME ?? env.OS_TENANT_NAME ?? "",
        project_id: s(c.tenantId) ?? env.OS_PROJECT_ID ?? env.OS_TENANT_ID ?? "",
        user_domain_name: s(c.userDomainName) ?? env.OS_USER_DOMAIN_NAME ?? s(c.domainName) ?? "Default",
        project_domain_name: s(c.projectDomainName) ?? env.OS_PROJECT_DOMAIN_NAME ?? s(c.domainName) ?? "Default",
      },
      interface: s(c.endpointType) ?? env.OS_INTERFACE,
    };
    for (const k of Object.keys(cloud.auth))
      if (!(cloud.auth as Record<string, string>)[k]) delete (cloud.auth as Record<string, string>)[k];
    if (!cloud.auth.auth_url) throw new Error("One of 'auth_url' or 'cloud' must be specified");
  }
  setClient(new OpenStack(cloud, region, password));
}

serve({
  name: "openstack",
  version: VERSION,
  resources: RESOURCES,
  functions: FUNCTIONS,
  configure,
}).catch((e) => {
  process.stderr.write(`pulumi-resource-openstack (stand-in): ${e?.stack ?? e}\n`);
  process.exit(1);
});
