package plugin

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/scan"
)

// policyFlags are the policy options of scan and verify: a policy file,
// and the threshold flags that override it.
type policyFlags struct {
	file        string
	failOn      string
	onlyFixable bool
	incomplete  string
	flags       *pflag.FlagSet
}

func (o *policyFlags) bind(flags *pflag.FlagSet) {
	o.flags = flags
	flags.StringVar(&o.file, "policy", "", "Policy file (secure-build.yaml); the flags below override it")
	flags.StringVar(&o.failOn, "fail-on", policy.Default.FailOn.String(), "Lowest severity that fails: critical, high, medium, low, unknown, none")
	flags.BoolVar(&o.onlyFixable, "only-fixable", policy.Default.OnlyFixable, "Only findings with a fixed version fail")
	flags.StringVar(&o.incomplete, "incomplete", string(policy.Fail), "What an incomplete scan (a package database, lockfile or archive that could not be read completely) does: fail, warn or off; warn and off let the vulnerable packages of what was not read pass unseen")
}

// resolve reads the policy file, if any, and applies the flags given.
func (o *policyFlags) resolve(ctx context.Context) (*policy.Policy, error) {
	p := policy.Defaults()
	if o.file != "" {
		var err error
		if p, err = scan.LoadPolicy(ctx, o.file); err != nil {
			return nil, err
		}
	}
	if o.flags.Changed("fail-on") {
		level, err := policy.ParseLevel(o.failOn)
		if err != nil {
			return nil, fmt.Errorf("--fail-on: %w", err)
		}
		p.Threshold.FailOn = level
	}
	if o.flags.Changed("only-fixable") {
		p.Threshold.OnlyFixable = o.onlyFixable
	}
	if o.flags.Changed("incomplete") {
		a, err := policy.ParseAction(o.incomplete)
		if err != nil {
			return nil, fmt.Errorf("--incomplete: %w", err)
		}
		p.Incomplete = a
	}
	return p, nil
}
