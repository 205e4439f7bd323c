#!/usr/bin/python3
"""Dump what the lab's demo project holds, as JSON, for the end-to-end test's assertions.

Usage: inspect.py            (OS_CLIENT_CONFIG_FILE must name the lab's clouds.yaml)
Reads as `lab-demo` (what a user sees) and uses `lab` (admin) only for what needs it: the server's user_data
(OS-EXT-SRV-ATTR:user_data, microversion 2.3, admin-only by default policy).
"""
import base64
import json

import openstack

demo = openstack.connect(cloud="lab-demo")
admin = openstack.connect(cloud="lab")
project_id = demo.current_project_id

out = {"images": [], "servers": [], "security_groups": [], "floating_ips": [], "keypairs": [], "volumes": [],
       "ports": []}

STANDARD_IMAGE_FIELDS = {
    "id", "name", "status", "disk_format", "container_format", "min_disk", "min_ram", "visibility", "checksum",
    "os_hash_algo", "os_hash_value", "os_hidden", "protected", "owner", "size", "virtual_size", "tags", "created_at",
    "updated_at", "file", "schema", "self", "direct_url", "locations", "stores",
}

for img in demo.image.images(owner=project_id):
    # openstacksdk leaves well-known properties (os_distro, hw_*) out of img.properties: read the raw record
    raw_img = demo.image.get(f"/images/{img.id}").json()
    props = {k: v for k, v in raw_img.items() if k not in STANDARD_IMAGE_FIELDS}
    out["images"].append({
        "id": img.id, "name": img.name, "status": img.status, "disk_format": img.disk_format,
        "container_format": img.container_format, "min_disk": img.min_disk, "min_ram": img.min_ram,
        "visibility": img.visibility, "checksum": img.checksum, "hash_value": img.hash_value,
        "hash_algo": img.hash_algo, "properties": props, "tags": img.tags,
    })

for srv in demo.compute.servers(details=True):
    if srv.status == "DELETED":
        continue
    raw = admin.compute.get(f"/servers/{srv.id}", microversion="2.3").json()["server"]
    ud = raw.get("OS-EXT-SRV-ATTR:user_data")
    flavor = demo.compute.find_flavor(srv.flavor.get("original_name") or srv.flavor.get("id"), ignore_missing=True)
    out["servers"].append({
        "id": srv.id, "name": srv.name, "status": srv.status,
        "flavor": flavor.name if flavor else srv.flavor, "key_name": srv.key_name,
        "image_id": (srv.image or {}).get("id"),
        "security_groups": sorted({g["name"] for g in (srv.security_groups or [])}),
        "addresses": srv.addresses, "user_data": base64.b64decode(ud).decode() if ud else None,
        "metadata": srv.metadata,
    })

for sg in demo.network.security_groups(project_id=project_id):
    out["security_groups"].append({
        "id": sg.id, "name": sg.name,
        "rules": [
            {"direction": r["direction"], "ethertype": r["ethertype"], "protocol": r["protocol"],
             "port_range_min": r["port_range_min"], "port_range_max": r["port_range_max"],
             "remote_ip_prefix": r["remote_ip_prefix"]}
            for r in sg.security_group_rules
        ],
    })

for fip in demo.network.ips(project_id=project_id):
    out["floating_ips"].append({"id": fip.id, "address": fip.floating_ip_address, "port_id": fip.port_id})

for port in demo.network.ports(project_id=project_id):
    out["ports"].append({"id": port.id, "device_owner": port.device_owner, "device_id": port.device_id,
                         "network_id": port.network_id, "status": port.status})

for kp in demo.compute.keypairs():
    out["keypairs"].append({"name": kp.name, "fingerprint": kp.fingerprint})

try:
    for vol in demo.block_storage.volumes(details=True):
        out["volumes"].append({"id": vol.id, "name": vol.name, "status": vol.status, "size": vol.size,
                               "attachments": [a.get("server_id") for a in vol.attachments or []]})
except Exception as exc:  # no Cinder in this lab
    out["volumes_error"] = str(exc).splitlines()[0]

print(json.dumps(out, indent=1, default=str))
