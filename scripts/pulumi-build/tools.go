//go:build tools

// Package tools pins the upstream Pulumi CLI (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) in this module's
// go.mod/go.sum, so that scripts/install-pulumi.sh builds it with verified, reproducible dependencies.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
