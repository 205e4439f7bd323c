// pulumi-resource-openstack is the bridged OpenStack provider plugin. schema.json is generated at build time by
// pulumi-tfgen-openstack (scripts/install-openstack-provider.sh), with "version" added, and embedded here.
package main

import (
	_ "embed" // schema.json

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	provider "jupyterhub-vm/openstack-provider-build"
)

//go:embed schema.json
var schema []byte

func main() {
	tfbridge.Main("openstack", provider.Version, provider.Provider(), schema)
}
