#!/usr/bin/python3
"""Helpers for testbed/openstack-lab/up.sh (Debian's python3 + openstacksdk).

  lab.py catalog    service project/users/roles, service catalog, project+user demo
  lab.py amqp-ping  exit 0 when RabbitMQ accepts an AMQP login
  lab.py seed       flavors, external network `public`, demo's `lab-net` + `lab-router`

Passwords are read from the 0600 file named by $LAB_SECRETS (KEY=VALUE lines);
clouds.yaml is found through $OS_CLIENT_CONFIG_FILE.
"""
import os
import sys
import time


def secrets():
    out = {}
    with open(os.environ['LAB_SECRETS']) as f:
        for line in f:
            k, _, v = line.strip().partition('=')
            if k:
                out[k] = v
    return out


def cinder_enabled():
    return os.environ.get('LAB_CINDER', '0') == '1' or boot_mode()


def boot_mode():
    """LAB_BOOT=1: servers really boot (lib/boot.sh): lab-net gets DHCP from the DHCP agent."""
    return os.environ.get('LAB_BOOT', '0') == '1'


def amqp_ping():
    import amqp
    c = amqp.Connection('127.0.0.1:5672', userid='lab', password=secrets()['RABBIT_PW'],
                        connect_timeout=1)
    c.connect()
    c.close()


def catalog():
    import openstack
    pw = secrets()
    conn = openstack.connect(cloud='lab')
    idc = conn.identity
    dom = idc.find_domain('default', ignore_missing=False)
    proj = idc.find_project('service', domain_id=dom.id) or \
        idc.create_project(name='service', domain_id=dom.id, description='lab services')
    roles = {}
    for role in ('admin', 'member', 'reader', 'service'):
        roles[role] = idc.find_role(role) or idc.create_role(name=role)
    svcs = {
        'glance': ('image', 'http://127.0.0.1:9292', 'GLANCE_PW'),
        'nova': ('compute', 'http://127.0.0.1:8774/v2.1', 'NOVA_PW'),
        'placement': ('placement', 'http://127.0.0.1:8778', 'PLACEMENT_PW'),
        'neutron': ('network', 'http://127.0.0.1:9696', 'NEUTRON_PW'),
        'cinder': ('volumev3', 'http://127.0.0.1:8776/v3/%(project_id)s', 'CINDER_PW'),
    }
    if not cinder_enabled():
        # the cinder user exists anyway (nova.conf names it); no service, no endpoint
        svcs['cinder'] = (None, None, 'CINDER_PW')
    for name, (stype, url, pwkey) in svcs.items():
        user = idc.find_user(name, domain_id=dom.id) or idc.create_user(
            name=name, password=pw[pwkey], domain_id=dom.id, default_project_id=proj.id)
        # admin: needed for e.g. neutron->nova external events; service: service tokens
        idc.assign_project_role_to_user(proj, user, roles['admin'])
        idc.assign_project_role_to_user(proj, user, roles['service'])
        if not stype:
            continue
        svc = next(iter(idc.services(type=stype)), None) or idc.create_service(
            name=name, type=stype, is_enabled=True)
        have = {e.interface for e in idc.endpoints(service_id=svc.id)}
        for iface in ('public', 'internal', 'admin'):
            if iface not in have:
                idc.create_endpoint(service_id=svc.id, interface=iface, url=url,
                                    region_id='RegionOne')
    # the non-admin project/user the end-to-end test deploys as
    demo = idc.find_project('demo', domain_id=dom.id) or idc.create_project(
        name='demo', domain_id=dom.id, description='lab: non-admin project')
    user = idc.find_user('demo', domain_id=dom.id) or idc.create_user(
        name='demo', password=pw['DEMO_PW'], domain_id=dom.id, default_project_id=demo.id)
    idc.assign_project_role_to_user(demo, user, roles['member'])
    print('catalog ok: services', ', '.join(s.type for s in idc.services()))


def seed():
    import openstack
    t0 = time.time()
    admin = openstack.connect(cloud='lab')
    demo = openstack.connect(cloud='lab-demo')

    for name, vcpus, ram, disk in (('m1.tiny', 1, 256, 1), ('m1.small', 1, 512, 10)):
        fl = admin.compute.find_flavor(name)
        if not fl:
            fl = admin.compute.create_flavor(name=name, vcpus=vcpus, ram=ram, disk=disk,
                                             is_public=True)
        print(f'flavor {fl.name}: {fl.vcpus} vcpu, {fl.ram} MiB, {fl.disk} GiB')

    # external network: flat on "extnet"; fake mode: DB only - no agent, no DHCP, nothing ever
    # routed; booting mode: extnet is the bridge br-ext (203.0.113.1/24) in the lab's namespace
    net = admin.network
    pub = net.find_network('public')
    if not pub:
        pub = net.create_network(name='public', is_router_external=True, is_shared=False,
                                 provider_network_type='flat',
                                 provider_physical_network='extnet')
    if not list(net.subnets(network_id=pub.id)):
        net.create_subnet(name='public-subnet', network_id=pub.id, ip_version=4,
                          cidr='203.0.113.0/24', gateway_ip=None, is_dhcp_enabled=False,
                          allocation_pools=[{'start': '203.0.113.10',
                                             'end': '203.0.113.250'}])
    print(f'network public {pub.id} (router:external, 203.0.113.0/24, no gateway, no DHCP)')

    # demo's own network + router, created as demo (what a real user has)
    dn = demo.network
    lnet = dn.find_network('lab-net') or dn.create_network(name='lab-net')
    sub = dn.find_subnet('lab-subnet') or dn.create_subnet(
        name='lab-subnet', network_id=lnet.id, ip_version=4, cidr='198.51.100.0/24',
        gateway_ip='198.51.100.1', is_dhcp_enabled=boot_mode(),
        allocation_pools=[{'start': '198.51.100.10', 'end': '198.51.100.250'}])
    rt = dn.find_router('lab-router')
    if not rt:
        rt = dn.create_router(name='lab-router',
                              external_gateway_info={'network_id': pub.id})
        dn.add_interface_to_router(rt, subnet_id=sub.id)
    seg = admin.network.get_network(lnet.id)
    print(f'network lab-net {lnet.id} ({seg.provider_network_type} '
          f'{seg.provider_physical_network}:{seg.provider_segmentation_id}), '
          f'subnet {sub.cidr} (dhcp {sub.is_dhcp_enabled}), router lab-router {rt.id} -> public')
    print(f'seed done in {time.time() - t0:.1f}s')


if __name__ == '__main__':
    cmd = sys.argv[1] if len(sys.argv) > 1 else ''
    if cmd == 'catalog':
        catalog()
    elif cmd == 'amqp-ping':
        amqp_ping()
    elif cmd == 'seed':
        seed()
    else:
        sys.exit(__doc__)
