package plugin

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/scan"
)

// policyFlags are the policy options of scan and verify: a policy file,
// the threshold flags that override it, and the status a failure exits with.
type policyFlags struct {
	file       string
	failOn     string
	incomplete string
	scope      string
	// onlyFixable is what --include-unfixable (or the deprecated
	// --only-fixable) set; nil leaves the policy's.
	onlyFixable *bool
	exitCode    int
	flags       *pflag.FlagSet
}

func (o *policyFlags) bind(flags *pflag.FlagSet) {
	o.flags = flags
	flags.StringVar(&o.file, "policy", "", "Policy file (secure-build.yaml); the flags below override it")
	flags.StringVar(&o.failOn, "fail-on", policy.Default.FailOn.String(), "Lowest severity that fails: critical, high, medium, low, unknown, none")
	bindOnlyFixable(flags, &o.onlyFixable)
	flags.StringVar(&o.incomplete, "incomplete", string(policy.Fail), "What an incomplete scan (a package database, lockfile or archive that could not be read completely) does: fail, warn or off; warn and off let the vulnerable packages of what was not read pass unseen")
	flags.StringVar(&o.scope, "scope", string(policy.ScopeAll), "Which findings gate: all, or added (only those the image's build added or changed; those inherited from the base image are reported, not gating; one no origin attributes gates)")
	flags.IntVar(&o.exitCode, "exit-code", ExitPolicyFailed, "Exit status when the policy fails; 0 reports the failure and exits 0")
}

// resolve reads the policy file, if any, and applies the flags given.
func (o *policyFlags) resolve(ctx context.Context) (*policy.Policy, error) {
	if err := checkExitCode(o.exitCode); err != nil {
		return nil, err
	}
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
			return nil, fmt.Errorf("--fail-on %w", err)
		}
		p.Threshold.FailOn = level
	}
	if o.onlyFixable != nil {
		p.Threshold.OnlyFixable = *o.onlyFixable
	}
	if o.flags.Changed("incomplete") {
		a, err := policy.ParseAction(o.incomplete)
		if err != nil {
			return nil, fmt.Errorf("--incomplete %w", err)
		}
		p.Incomplete = a
	}
	if o.flags.Changed("scope") {
		scope, err := policy.ParseScope(o.scope)
		if err != nil {
			return nil, fmt.Errorf("--scope %w", err)
		}
		p.Threshold.Scope = scope
	}
	return p, nil
}

// bindOnlyFixable binds --include-unfixable, which makes the findings with
// no fixed version fail too, and --only-fixable, the flag it replaces: a
// bool that defaulted to true, so that typing it changed nothing. The old
// flag stays, hidden and deprecated, for the scripts written from the
// README's "--only-fixable=false". Both set *only, the threshold's
// only-fixable, the last one given winning; nil when neither is given.
func bindOnlyFixable(flags *pflag.FlagSet, only **bool) {
	flags.Var(&onlyFixableFlag{only: only, negate: true}, "include-unfixable", "Findings with no fixed version fail too (by default only fixable ones do)")
	flags.Lookup("include-unfixable").NoOptDefVal = "true"
	flags.Var(&onlyFixableFlag{only: only}, "only-fixable", "Only findings with a fixed version fail")
	old := flags.Lookup("only-fixable")
	old.NoOptDefVal = "true"
	old.Hidden = true
	old.Annotations = map[string][]string{deprecatedFlag: {"use --include-unfixable to fail on findings with no fix too; fixable-only is the default"}}
}

// onlyFixableFlag is a bool flag that sets the threshold's only-fixable to
// its value, or to the opposite (negate).
type onlyFixableFlag struct {
	only   **bool
	negate bool
}

func (f *onlyFixableFlag) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("want true or false")
	}
	only := b != f.negate
	*f.only = &only
	return nil
}

func (f *onlyFixableFlag) String() string {
	if *f.only == nil {
		return "false"
	}
	return strconv.FormatBool(**f.only != f.negate)
}

func (f *onlyFixableFlag) Type() string { return "bool" }
