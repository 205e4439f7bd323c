#!/usr/bin/python3
"""Booting self-test of the lab started with LAB_BOOT=1, as the non-admin cloud `lab-demo` (openstacksdk).
Runs INSIDE the lab's network namespace (smoke-boot.sh does that): floating IPs and guests exist only there.

image upload (a test image whose cloud-init reads ConfigDrive/OpenStack) -> security group opening only tcp/22
-> volume A (1 GiB, RBD) -> server on lab-net (config drive, user_data, volume A attached at boot) -> ACTIVE
-> floating IP -> login prompt on the console -> volume B attached after boot -> evidence from the guest
(console): DHCP address, metadata service answered, datasource, /dev/disk/by-id -> tcp/22 answers on the
floating IP, tcp/8080 (listening in the guest) filtered -> delete everything -> no RBD image left in Ceph.

Usage: smoke_boot.py QCOW2 [--scsi]   (--scsi: image properties hw_disk_bus=scsi, hw_scsi_model=virtio-scsi)
"""
import base64
import os
import re
import socket
import subprocess
import sys
import time
import traceback

import openstack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smoke import Step, check, wait_until, RESULTS, REPORTED, T0  # noqa: E402

PREFIX = f'smokeboot-{int(T0)}'
TIMINGS = {}

# The guest reports on its serial console (what Nova's console log shows), lines starting with JHVM-.
# The watcher prints /dev/disk/by-id again whenever it changes (volume attached after boot).
USER_DATA = r'''#cloud-config
bootcmd:
  - [sh, -c, 'echo "JHVM-BOOTCMD uptime=$(cut -d" " -f1 /proc/uptime)" > /dev/ttyS0']
write_files:
  - path: /usr/local/sbin/jhvm-smoke
    permissions: '0755'
    content: |
      #!/bin/sh
      exec > /dev/ttyS0 2>&1
      echo "JHVM-UPTIME $(cut -d' ' -f1 /proc/uptime)"
      ip -4 -o addr show scope global | sed 's/^/JHVM-ADDR /'
      ip -4 route | sed 's/^/JHVM-ROUTE /'
      python3 - <<'PY'
      import json, urllib.request
      try:
          d = json.load(urllib.request.urlopen(
              'http://169.254.169.254/openstack/latest/meta_data.json', timeout=20))
          print('JHVM-METADATA-OK uuid=%s name=%s' % (d.get('uuid'), d.get('name')))
      except Exception as e:
          print('JHVM-METADATA-FAIL %r' % (e,))
      PY
      echo "JHVM-DS $(cloud-init query v1.platform 2>/dev/null) $(cloud-init query v1.subplatform 2>/dev/null)"
      ss -ltn | grep -q ':8080 ' && echo "JHVM-LISTEN 8080"
      # out through the router (SNAT / floating IP) to the external bridge's address in the lab namespace
      if ping -c 1 -W 5 203.0.113.1 >/dev/null 2>&1; then echo "JHVM-EXT-PING ok"; else echo "JHVM-EXT-PING failed"; fi
      old=''
      i=0
      while [ $i -lt 300 ]; do
        new=$(ls -l /dev/disk/by-id 2>&1 | awk 'NR > 1 {print $9, $10, $11}')
        if [ "$new" != "$old" ]; then
          echo "JHVM-BYID-BEGIN uptime=$(cut -d' ' -f1 /proc/uptime)"
          echo "$new" | sed 's/^/JHVM-BYID /'
          lsblk -dno NAME,SIZE,SERIAL,TRAN 2>/dev/null | sed 's/^/JHVM-LSBLK /'
          echo "JHVM-BYID-END"
          old=$new
        fi
        i=$((i + 1))
        sleep 2
      done
runcmd:
  - [sh, -c, 'nohup python3 -m http.server 8080 >/dev/null 2>&1 &']
  - [sh, -c, 'sleep 2; nohup /usr/local/sbin/jhvm-smoke >/dev/null 2>&1 &']
'''


def console(c, srv):
    try:
        return c.get_server_console_output(srv).get('output', '') or ''
    except Exception:   # not available yet
        return ''


def tcp(host, port, timeout=5):
    """'open: banner' / 'refused' / 'filtered' (timeout)"""
    try:
        with socket.create_connection((host, port), timeout=timeout) as so:
            so.settimeout(timeout)
            try:
                return 'open: ' + so.recv(64).decode(errors='replace').strip()
            except socket.timeout:
                return 'open'
    except ConnectionRefusedError:
        return 'refused'
    except (socket.timeout, TimeoutError):
        return 'filtered'
    except OSError as e:
        return f'error {e}'


def rbd_images():
    out = subprocess.run(['rbd', '-p', 'volumes', 'ls'], capture_output=True, text=True, timeout=60)
    if out.returncode:
        raise RuntimeError(f'rbd ls: {out.stderr.strip()}')
    return out.stdout.split()


def main(qcow2, scsi):
    demo = openstack.connect(cloud='lab-demo')
    c, n, bs = demo.compute, demo.network, demo.block_storage
    made = {}
    with Step('authenticate as demo; Ceph pool volumes empty') as s:
        demo.authorize()
        check(rbd_images() == [], f'rbd images before the test: {rbd_images()}')
        s.detail = f'project {demo.current_project_id}'
    try:
        with Step('image upload (qcow2, cloud-init ConfigDrive/OpenStack)') as s:
            props = {'hw_disk_bus': 'scsi', 'hw_scsi_model': 'virtio-scsi'} if scsi else {}
            img = demo.image.create_image(name=f'{PREFIX}-img', filename=qcow2, disk_format='qcow2',
                                          container_format='bare', wait=True, **props)
            made['image'] = img
            img = demo.image.get_image(img)
            check(img.status == 'active', f'image status {img.status}')
            TIMINGS['image upload'] = time.time() - s.t
            s.detail = f'{img.id} {img.size} bytes {props or ""}'
        with Step('security group: ingress tcp/22 only') as s:
            sg = n.create_security_group(name=f'{PREFIX}-sg')
            made['sg'] = sg
            n.create_security_group_rule(security_group_id=sg.id, direction='ingress', ethertype='IPv4',
                                         protocol='tcp', port_range_min=22, port_range_max=22,
                                         remote_ip_prefix='0.0.0.0/0')
        with Step('volume A 1 GiB (to attach at boot) -> available') as s:
            va = bs.create_volume(name=f'{PREFIX}-vol-a', size=1)
            made['vol_a'] = va
            va = bs.wait_for_status(va, 'available', failures=['error'], interval=1, wait=180)
            s.detail = va.id
        with Step('server on lab-net, m1.small, config drive, volume A at boot -> ACTIVE') as s:
            fl = c.find_flavor('m1.small', ignore_missing=False)
            net = n.find_network('lab-net', ignore_missing=False)
            srv = c.create_server(
                name=f'{PREFIX}-vm', image_id=img.id, flavor_id=fl.id, networks=[{'uuid': net.id}],
                security_groups=[{'name': sg.name}], config_drive=True,
                block_device_mapping=[{'boot_index': 0, 'uuid': img.id, 'source_type': 'image',
                                       'destination_type': 'local', 'delete_on_termination': True},
                                      {'boot_index': -1, 'uuid': va.id, 'source_type': 'volume',
                                       'destination_type': 'volume', 'delete_on_termination': False}],
                user_data=base64.b64encode(USER_DATA.encode()).decode())
            made['server'] = srv
            srv = c.wait_for_server(srv, status='ACTIVE', failures=['ERROR'], wait=600, interval=1)
            t_active = time.time()
            TIMINGS['create -> ACTIVE'] = t_active - s.t
            fixed = [a['addr'] for v in srv.addresses.values() for a in v][0]
            s.detail = f'{srv.id} fixed {fixed}'
        with Step('floating IP from public, associated') as s:
            pub = n.find_network('public', ignore_missing=False)
            port = next(iter(n.ports(device_id=srv.id)))
            fip = n.create_ip(floating_network_id=pub.id, port_id=port.id)
            made['fip'] = fip
            fip_addr = fip.floating_ip_address
            wait_until(lambda: n.get_ip(fip.id).status == 'ACTIVE', 'floating IP ACTIVE', 120, 1)
            s.detail = f'{fip_addr} -> {fixed}'
        with Step('guest boots to a login prompt (console log)') as s:
            wait_until(lambda: re.search(r'login:', console(c, srv)), 'login prompt', 600, 3)
            TIMINGS['ACTIVE -> login prompt'] = time.time() - t_active
            s.detail = f'{time.time() - t_active:.0f}s after ACTIVE'
        with Step('guest: metadata service answered, datasource, address') as s:
            out = wait_until(lambda: (lambda o: o if 'JHVM-METADATA-' in o and 'JHVM-BYID-END' in o else None)(
                console(c, srv)), 'guest report on the console', 300, 3)
            md = re.search(r'JHVM-METADATA-(OK|FAIL)[^\r\n]*', out).group(0)
            check(md.startswith('JHVM-METADATA-OK') and srv.id in md, md)
            addr = re.findall(r'JHVM-ADDR [^\r\n]*', out)
            check(any(fixed + '/' in a for a in addr), f'guest addresses {addr}, expected {fixed}')
            ds = re.search(r'JHVM-DS[^\r\n]*', out)
            ping = re.search(r'JHVM-EXT-PING[^\r\n]*', out)
            s.detail = (f'{md}; {"; ".join(addr)}; {ds.group(0) if ds else "no JHVM-DS line"}; '
                        f'{ping.group(0) if ping else "no JHVM-EXT-PING line"}')
        with Step('fixed IP came by DHCP (guest address dynamic + dnsmasq DHCPACK)') as s:
            check(any('dynamic' in a for a in addr), f'guest address not dynamic (not DHCP?): {addr}')
            log_dir = os.path.join(os.environ['LAB'], 'log', 'dnsmasq', net.id, 'dhcp_dns_log')
            with open(log_dir, errors='replace') as f:
                acks = [ln.strip() for ln in f if 'DHCPACK' in ln and fixed in ln]
            check(acks, f'no DHCPACK for {fixed} in {log_dir}')
            s.detail = acks[-1][-100:]
        with Step('security group enforced: tcp/22 open, tcp/8080 (listening in the guest) filtered') as s:
            check('JHVM-LISTEN 8080' in out, 'the guest does not report a listener on 8080')
            r22 = wait_until(lambda: (lambda r: r if r.startswith('open') else None)(tcp(fip_addr, 22)),
                             f'{fip_addr}:22 open', 120, 2)
            r8080 = tcp(fip_addr, 8080)
            check(r8080 == 'filtered', f'{fip_addr}:8080 is {r8080}, expected filtered')
            s.detail = f'22 {r22}; 8080 {r8080}'
        with Step('volume B 1 GiB -> attach after boot -> in-use') as s:
            vb = bs.create_volume(name=f'{PREFIX}-vol-b', size=1)
            made['vol_b'] = vb
            vb = bs.wait_for_status(vb, 'available', failures=['error'], interval=1, wait=180)
            t = time.time()
            att = c.create_volume_attachment(srv, volume_id=vb.id)
            bs.wait_for_status(vb, 'in-use', failures=['error'], interval=1, wait=180)
            TIMINGS['volume attach (API -> in-use)'] = time.time() - t
            s.detail = f'{vb.id} device {att.device}'
        with Step('guest sees both volumes in /dev/disk/by-id (serial = volume ID)') as s:
            def both():
                o = console(c, srv)
                blocks = re.findall(r'JHVM-BYID-BEGIN[^\n]*\n(.*?)JHVM-BYID-END', o, re.S)
                return blocks if blocks and vb.id[:20] in blocks[-1] else None
            blocks = wait_until(both, 'volume B in the guest by-id list', 180, 3)
            TIMINGS['volume attach (API -> seen in guest)'] = time.time() - t
            check(va.id[:20] in blocks[0], f'volume A not in the by-id list at boot: {blocks[0]}')
            print('---- /dev/disk/by-id at boot ----\n' + blocks[0].replace('\r', '') +
                  '---- after attaching volume B ----\n' + blocks[-1].replace('\r', ''), flush=True)
            s.detail = f'{len(blocks)} by-id listings'
        with Step('server info: volumes attached as RBD network disks') as s:
            vols = [a.volume_id for a in c.volume_attachments(srv)]
            check(set(vols) == {va.id, vb.id}, f'attachments {vols}')
            s.detail = 'attachments ' + ', '.join(vols)
    finally:
        cleanup(demo, made)
        with Step('Ceph: no RBD image left in pool volumes') as s:
            left = wait_until(lambda: (lambda l: l == [] and ['none'])(rbd_images()), 'rbd pool empty', 60, 2)
            s.detail = str(left)


def cleanup(demo, made):
    n, c, bs = demo.network, demo.compute, demo.block_storage
    actions = []
    if 'fip' in made:
        actions.append(('floating IP delete', lambda: n.delete_ip(made['fip'])))
    if 'server' in made:
        def delete_server():
            t = time.time()
            c.delete_server(made['server'])
            c.wait_for_delete(made['server'], wait=300, interval=1)
            TIMINGS['server delete'] = time.time() - t
        actions.append(('server delete', delete_server))
    for k in ('vol_a', 'vol_b'):
        if k in made:
            def delete_volume(v=made[k]):
                t = time.time()
                bs.wait_for_status(v, 'available', failures=['error'], interval=1, wait=180)
                bs.delete_volume(v)
                bs.wait_for_delete(v, wait=180, interval=1)
                TIMINGS[f'volume delete ({v.name[-5:]})'] = time.time() - t
            actions.append((f'volume {k} delete', delete_volume))
    if 'sg' in made:
        actions.append(('security group delete', lambda: n.delete_security_group(made['sg'])))
    if 'image' in made:
        actions.append(('image delete', lambda: demo.image.delete_image(made['image'])))
    for name, fn in actions:
        try:
            with Step(name):
                fn()
        except Exception:
            pass


if __name__ == '__main__':
    try:
        main(sys.argv[1], '--scsi' in sys.argv[2:])
    except Exception as e:
        if id(e) not in REPORTED:
            traceback.print_exc()
            RESULTS.append(('unexpected error', False, 0, repr(e)))
    failed = [r for r in RESULTS if not r[1]]
    for k, v in TIMINGS.items():
        print(f'timing: {k}: {v:.1f}s')
    print(f'smoke-boot total {time.time() - T0:.1f}s')
    print(f'lab smoke-boot: {len(RESULTS) - len(failed)} passed, {len(failed)} failed')
    sys.exit(1 if failed or not RESULTS else 0)
