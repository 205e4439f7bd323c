/**
 * The Ansible variable table: the stack config's keys mapped onto the variables `ansible/playbook.yml` receives
 * (ansible/README.md documents each). They end up in the image, so they are part of the final image's content key.
 */
import * as fs from "fs";
import * as path from "path";
import { StackConfig } from "../../config";

/** `hub.content` as the content role takes it: none, a local directory, or a git URL pinned to a ref. */
export function contentVars(content: string, projectDir: string): Record<string, unknown> {
  if (!content) return { content_source: "none" };
  const git = /^(https?:\/\/|git@)[^#]+?(\.git)?(#(.+))?$/.exec(content);
  if (git && !fs.existsSync(content)) {
    const [url, ref] = content.split("#");
    return { content_source: "git", content_git_url: url, content_git_ref: ref ?? "" };
  }
  return { content_source: "local", content_local_dir: path.resolve(projectDir, content) };
}

/** The variables the Ansible playbook receives (ansible/README.md documents each). */
export function ansibleVars(
  cfg: Pick<StackConfig, "image" | "hub">,
  projectDir: string = process.cwd(),
): Record<string, unknown> {
  const { image, hub } = cfg;
  return {
    system_locale: image.locale,
    system_timezone: image.timezone,
    system_keyboard_layout: image.keyboard,
    system_hostname: hub.hostname,
    system_http_proxy: image.httpProxy,
    system_https_proxy: image.httpsProxy,
    system_no_proxy: image.noProxy,
    tljh_version: hub.tljhVersion,
    tljh_bootstrap_ref: hub.tljhVersion,
    tljh_admin_users: [...hub.admins],
    tljh_memory_limit: hub.memoryLimit,
    tljh_cpu_limit: hub.cpuLimit,
    tljh_idle_culler_enabled: hub.idleCulling,
    tljh_idle_culler_timeout: hub.idleTimeoutSeconds,
    tljh_default_app: hub.defaultApp,
    tljh_base_url: hub.baseUrl,
    python_packages: [...hub.pythonPackages],
    r_enabled: hub.installR,
    r_cran_packages: [...hub.rCranPackages],
    r_bioconductor_packages: [...hub.rBioconductorPackages],
    r_github_packages: [...hub.rGithubPackages],
    ...contentVars(hub.content, projectDir),
    desktop_enabled: hub.desktop,
  };
}
