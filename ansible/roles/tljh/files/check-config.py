"""Checks a TLJH config.yaml with TLJH's own code, as the hub and tljh-config will read it.

Run by the hub environment's python (the tljh package importable):
    python3 check-config.py CONFIG_YAML
1. validates it against TLJH's schema (tljh.config_schema), as `tljh-config` does on every change (first boot
   runs tljh-config: a config it rejects would fail there, after the build);
2. applies it with TLJH's configurer (tljh.configurer.apply_config), as TLJH's jupyterhub_config.py does;
3. prints the JupyterHub settings that result, as JSON (sets as sorted lists).
Exits 1 with TLJH's message when either step rejects the file.
"""

import json
import sys

import jsonschema
from traitlets.config import Config

from tljh.config_schema import config_schema
from tljh.configurer import apply_config
from tljh.yaml import yaml


def plain(value):
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def main(path):
    with open(path) as f:
        config = yaml.load(f) or {}
    try:
        jsonschema.validate(instance=config, schema=config_schema)
    except jsonschema.exceptions.ValidationError as e:
        sys.exit(f"{path}: TLJH's schema rejects it: {e.message} (at {'.'.join(map(str, e.absolute_path)) or '/'})")
    c = Config()
    try:
        apply_config(config, c)
    except Exception as e:  # TLJH raises ValueError and KeyError for what it cannot apply
        sys.exit(f"{path}: TLJH's configurer rejects it: {e!r}")
    settings = {f"{cls}.{name}": plain(value) for cls, traits in c.items() for name, value in traits.items()}
    json.dump(settings, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main(sys.argv[1])
