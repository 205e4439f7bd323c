"""Lab-only ML2 mechanism driver (testbed/openstack-lab): binds every port on any host (vif_type ovs,
status ACTIVE) without any L2 agent, so Nova's fake driver can boot servers with ports and
fixed IPs. No packet ever flows; it only makes the API/DB state complete.
Loaded by neutron-server through PYTHONPATH=testbed/openstack-lab/pylib (entry point in the dist-info)."""
from neutron_lib.api.definitions import portbindings
from neutron_lib import constants
from neutron_lib.plugins.ml2 import api


class LabMechanismDriver(api.MechanismDriver):
    def initialize(self):
        pass

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(segment[api.ID], portbindings.VIF_TYPE_OVS,
                                {portbindings.CAP_PORT_FILTER: False},
                                status=constants.PORT_STATUS_ACTIVE)
            return
