// pulumi-tfgen-openstack generates the Pulumi schema of the bridged provider (run by
// scripts/install-openstack-provider.sh at build time: `schema --skip-examples --out ...`).
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	provider "jupyterhub-vm/openstack-provider-build"
)

func main() {
	tfgen.Main("openstack", provider.Version, provider.Provider())
}
