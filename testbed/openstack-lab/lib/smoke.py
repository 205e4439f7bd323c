#!/usr/bin/python3
"""Readiness self-test of the lab, as the non-admin cloud `lab-demo` (openstacksdk).

image upload (tiny qcow2) -> keypair -> security group + rule -> port on lab-net ->
server on that port with user_data -> ACTIVE -> floating IP from `public` associated to the
port -> [volume create + attach + detach, when the catalog has Cinder] -> delete everything
-> check that the project holds exactly what it held before.
Usage: smoke.py QCOW2_FILE   (run through testbed/openstack-lab/smoke.sh)
"""
import base64
import ipaddress
import sys
import time
import traceback

import openstack

T0 = time.time()
RESULTS = []        # (name, ok, seconds, detail)
PREFIX = f'smoke-{int(T0)}'
REPORTED = set()   # ids of exceptions already reported by a Step


class Step:
    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.t = time.time()
        self.detail = ''
        return self

    def __exit__(self, typ, exc, tb):
        dt = time.time() - self.t
        ok = typ is None
        detail = self.detail if ok else f'{typ.__name__}: {exc}'
        RESULTS.append((self.name, ok, dt, detail))
        print(f'[{time.time() - T0:6.1f}s] {"ok  " if ok else "FAIL"} {self.name} '
              f'({dt:.1f}s){": " + detail if detail else ""}', flush=True)
        if not ok:
            REPORTED.add(id(exc))
            traceback.print_exception(typ, exc, tb, limit=4)
        return False


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def wait_until(fn, what, timeout=120, interval=0.5):
    end = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > end:
            raise TimeoutError(f'{what}: not reached in {timeout}s')
        time.sleep(interval)


def inventory(demo, pid):
    """Everything of project demo the test could leave behind (ids)."""
    n, c = demo.network, demo.compute
    inv = {
        'servers': {s.id for s in c.servers()},
        'keypairs': {k.name for k in c.keypairs()},
        'ports': {p.id for p in n.ports(project_id=pid)},
        'floating_ips': {f.id for f in n.ips(project_id=pid)},
        'security_groups': {g.id for g in n.security_groups(project_id=pid)
                            if g.name != 'default'},
        'images': {i.id for i in demo.image.images(owner=pid)},
    }
    if demo.has_service('block-storage'):
        inv['volumes'] = {v.id for v in demo.block_storage.volumes()}
    return inv


def main(qcow2):
    demo = openstack.connect(cloud='lab-demo')
    admin = openstack.connect(cloud='lab')
    made = {}
    with Step('authenticate as demo (member of project demo)') as s:
        demo.authorize()
        pid = demo.current_project_id
        s.detail = f'project {pid}'
    before = inventory(demo, pid)
    cinder = 'volumes' in before
    user_data = '#cloud-config\nruncmd:\n  - echo lab-smoke\n'
    try:
        with Step('image upload (qcow2)') as s:
            img = demo.image.create_image(name=f'{PREFIX}-img', filename=qcow2,
                                          disk_format='qcow2', container_format='bare',
                                          wait=True)
            made['image'] = img
            img = demo.image.get_image(img)
            check(img.status == 'active', f'image status {img.status}')
            s.detail = f'{img.id} {img.size} bytes'
        with Step('keypair create') as s:
            kp = demo.compute.create_keypair(name=f'{PREFIX}-key')
            made['keypair'] = kp
            check(kp.public_key.startswith('ssh-'), 'no public key')
        with Step('security group + ingress tcp/22 rule') as s:
            sg = demo.network.create_security_group(name=f'{PREFIX}-sg')
            made['sg'] = sg
            demo.network.create_security_group_rule(
                security_group_id=sg.id, direction='ingress', ethertype='IPv4',
                protocol='tcp', port_range_min=22, port_range_max=22,
                remote_ip_prefix='0.0.0.0/0')
        with Step('port on lab-net') as s:
            net = demo.network.find_network('lab-net', ignore_missing=False)
            port = demo.network.create_port(name=f'{PREFIX}-port', network_id=net.id,
                                            security_group_ids=[sg.id])
            made['port'] = port
            fixed = port.fixed_ips[0]['ip_address']
            check(ipaddress.ip_address(fixed) in ipaddress.ip_network('198.51.100.0/24'),
                  f'fixed ip {fixed}')
            s.detail = fixed
        with Step('server on the port, m1.tiny, user_data -> ACTIVE') as s:
            fl = demo.compute.find_flavor('m1.tiny', ignore_missing=False)
            srv = demo.compute.create_server(
                name=f'{PREFIX}-vm', image_id=img.id, flavor_id=fl.id, key_name=kp.name,
                networks=[{'port': port.id}],
                user_data=base64.b64encode(user_data.encode()).decode())
            made['server'] = srv
            srv = demo.compute.wait_for_server(srv, status='ACTIVE', wait=180, interval=1)
            s.detail = f'{srv.id} addresses={dict(srv.addresses)}'
        with Step('server details: port bound, user_data stored') as s:
            p = admin.network.get_port(port.id)
            check(p.device_id == srv.id, f'port device_id {p.device_id}')
            check(p.binding_vif_type not in ('unbound', 'binding_failed'),
                  f'port binding {p.binding_vif_type}')
            full = admin.compute.get_server(srv.id)
            check(full.user_data and base64.b64decode(full.user_data).decode() == user_data,
                  'user_data not stored')
            s.detail = f'port {p.status} vif={p.binding_vif_type} host={p.binding_host_id}'
        with Step('floating IP from public, associated to the port') as s:
            pub = demo.network.find_network('public', ignore_missing=False)
            fip = demo.network.create_ip(floating_network_id=pub.id)
            made['fip'] = fip
            fip = demo.network.update_ip(fip, port_id=port.id)
            fip = demo.network.get_ip(fip.id)
            check(fip.port_id == port.id, f'fip port_id {fip.port_id}')
            check(fip.fixed_ip_address == fixed, f'fip fixed ip {fip.fixed_ip_address}')
            check(ipaddress.ip_address(fip.floating_ip_address)
                  in ipaddress.ip_network('203.0.113.0/24'), fip.floating_ip_address)
            s.detail = f'{fip.floating_ip_address} -> {fixed} (status {fip.status}, router {fip.router_id})'
        with Step('nova sees the floating IP in server addresses') as s:
            def floating():
                a = demo.compute.get_server(srv.id).addresses or {}
                return [x['addr'] for v in a.values() for x in v
                        if x.get('OS-EXT-IPS:type') == 'floating']
            s.detail = str(wait_until(floating, 'floating ip in nova addresses', 30, 1))
        if cinder:
            with Step('volume create 1 GiB -> available') as s:
                vol = demo.block_storage.create_volume(name=f'{PREFIX}-vol', size=1)
                made['volume'] = vol
                vol = demo.block_storage.wait_for_status(vol, 'available', failures=['error'],
                                                         interval=1, wait=120)
                found = demo.block_storage.find_volume(f'{PREFIX}-vol', ignore_missing=False)
                check(found.id == vol.id, 'volume not found by name')   # needs resource_filters.json
                s.detail = vol.id
            with Step('volume attach to server -> in-use') as s:
                att = demo.compute.create_volume_attachment(srv, volume_id=vol.id)
                vol = demo.block_storage.wait_for_status(vol, 'in-use', failures=['error'],
                                                         interval=1, wait=120)
                s.detail = f'device {att.device}'
            with Step('volume detach -> available') as s:
                demo.compute.delete_volume_attachment(vol.id, srv, ignore_missing=False)
                vol = demo.block_storage.wait_for_status(vol, 'available', failures=['error'],
                                                         interval=1, wait=120)
    finally:
        cleanup(demo, made)
        with Step('nothing left in project demo') as s:
            last = {}

            def same():
                last['inv'] = inventory(demo, pid)
                return last['inv'] == before
            try:
                wait_until(same, 'project demo back to its state before the test', 30, 1)
            except TimeoutError:
                extra = {k: sorted(v - before.get(k, set())) for k, v in last['inv'].items()
                         if v - before.get(k, set())}
                raise AssertionError(f'left behind: {extra}') from None
            s.detail = ', '.join(f'{k}={len(v)}' for k, v in sorted(last['inv'].items()))


def cleanup(demo, made):
    """Delete what the test made; every step runs even when an earlier one failed."""
    n, c = demo.network, demo.compute
    actions = []
    if 'fip' in made:
        actions.append(('floating IP disassociate + delete',
                        lambda: (n.update_ip(made['fip'], port_id=None),
                                 n.delete_ip(made['fip']))))
    if 'server' in made:
        actions.append(('server delete',
                        lambda: (c.delete_server(made['server']),
                                 c.wait_for_delete(made['server'], wait=120, interval=1))))
    if 'volume' in made:
        actions.append(('volume delete',
                        lambda: (demo.block_storage.delete_volume(made['volume']),
                                 demo.block_storage.wait_for_delete(made['volume'], wait=120,
                                                                    interval=1))))
    if 'port' in made:
        actions.append(('port delete', lambda: n.delete_port(made['port'])))
    if 'sg' in made:
        actions.append(('security group delete', lambda: n.delete_security_group(made['sg'])))
    if 'keypair' in made:
        actions.append(('keypair delete', lambda: c.delete_keypair(made['keypair'])))
    if 'image' in made:
        actions.append(('image delete', lambda: demo.image.delete_image(made['image'])))
    for name, fn in actions:
        try:
            with Step(name):
                fn()
        except Exception:
            pass   # reported by Step; go on with the rest


if __name__ == '__main__':
    try:
        main(sys.argv[1])
    except Exception as e:
        if id(e) not in REPORTED:   # not raised inside a Step: report it here
            traceback.print_exc()
            RESULTS.append(('unexpected error', False, 0, repr(e)))
    failed = [r for r in RESULTS if not r[1]]
    print(f'smoke total {time.time() - T0:.1f}s')
    print(f'lab smoke: {len(RESULTS) - len(failed)} passed, {len(failed)} failed')
    sys.exit(1 if failed or not RESULTS else 0)
